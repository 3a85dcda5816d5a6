"""TrainConfig from YAML/flags: unknown keys, bad values and bad YAML give one exact line."""
from __future__ import annotations

from pathlib import Path

import pytest

from embedtune.config import TrainConfig, build_config, load_yaml
from embedtune.errors import ConfigError


def config_error(values: dict, source: str = "train.yaml") -> str:
    with pytest.raises(ConfigError) as exc:
        build_config(TrainConfig, values, source=source)
    return str(exc.value)


def test_misspelt_key_suggests_the_closest() -> None:
    assert config_error({"learning_rat": 1e-5}) == 'train.yaml: unknown key "learning_rat"; did you mean "learning_rate"?'


def test_unrelated_key_lists_every_valid_key() -> None:
    assert config_error({"zzz": 1}) == (
        'train.yaml: unknown key "zzz" (valid keys: model, strategy, recipe, negatives, num_negatives, loss, mini_batch_size, guide_model, teacher, '
        "teacher_kind, teacher_batch_size, teacher_precision, matryoshka_dims, matryoshka_weights, matryoshka_rotation, "
        "epochs, extend_epochs, learning_rate, batch_size, max_seq_length, query_prompt, document_prompt, warmup_ratio, weight_decay, "
        "seed, precision, gradient_checkpointing, freeze, dropout, attention_dropout, split, eval_split, dev_fraction, max_dev_queries, dev_corpus_size, evals_per_epoch, save_every_minutes, select_on, "
        "lora_r, lora_alpha, lora_dropout, lora_target_modules, guard_data, guard_base, guard_split, guard_threshold, "
        "guard_alphas, sampling)")


def test_bad_sampling_lists_choices() -> None:
    assert config_error({"sampling": "random"}) == (
        'train.yaml: unknown sampling "random" (choose one of: proportional, round_robin)')


def test_bad_strategy_lists_choices() -> None:
    assert config_error({"strategy": "dora"}) == 'train.yaml: unknown strategy "dora" (choose one of: full, lora, qlora)'


@pytest.mark.parametrize(("values", "message"), [
    ({"epochs": -1}, "epochs must be positive, got -1"),
    ({"epochs": 0}, "epochs must be positive, got 0"),
    ({"learning_rate": -1e-5}, "learning_rate must be positive, got -1e-05"),
    ({"batch_size": 1}, "batch_size must be at least 2 (in-batch negatives need company), got 1"),
    ({"warmup_ratio": 1.0}, "warmup_ratio must be in [0, 1), got 1.0"),
    ({"dev_fraction": 0}, "dev_fraction must be between 0 and 1 (exclusive), got 0"),
    ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
    ({"dropout": "none"}, 'dropout must be a number, got "none"'),
    ({"attention_dropout": -0.1}, "attention_dropout must be in [0, 1), got -0.1"),
    ({"select_on": "best"}, 'unknown select_on "best" (choose one of: auto, full, dims)'),
    ({"select_on": "dims"}, "select_on dims needs matryoshka_dims (the sizes to average over)"),
    ({"epochs": "three"}, 'epochs must be a number, got "three"'),
    ({"batch_size": 2.5}, "batch_size must be a whole number, got 2.5"),
    ({"seed": True}, 'seed must be a number, got "True"'),
    ({"matryoshka_rotation": "maybe"}, 'matryoshka_rotation must be true or false, got "maybe"'),
    ({"matryoshka_rotation": 1}, 'matryoshka_rotation must be true or false, got "1"'),
    ({"matryoshka_dims": "384,256,abc"}, 'matryoshka_dims must be whole numbers such as 384,256,128, got "abc"'),
    ({"matryoshka_dims": [384, 0]}, "matryoshka_dims must be positive, got 0"),
    ({"matryoshka_dims": "256,128,256"}, "matryoshka_dims lists 256 twice"),
    ({"matryoshka_dims": " , "}, "matryoshka_dims needs at least one embedding size, e.g. 384,256,128,64"),
    ({"matryoshka_dims": "384,128", "matryoshka_weights": "1,2,2"},
     "matryoshka_weights gives 3 weights for 2 matryoshka_dims sizes: give one per size, in order"),
    ({"matryoshka_weights": "1"}, "matryoshka_weights needs matryoshka_dims (one weight per size)"),
    ({"matryoshka_dims": "384,128", "matryoshka_weights": "1,-2"}, "matryoshka_weights must be positive and finite, got -2"),
    ({"matryoshka_dims": "384,128", "matryoshka_weights": "1,x"}, 'matryoshka_weights must be numbers such as 1,1,2,2, got "x"'),
    ({"guard_threshold": -0.01}, "guard_threshold must be >= 0 (the largest guard nDCG@10 drop to accept), got -0.01"),
    ({"guard_threshold": "high"}, 'guard_threshold must be a number, got "high"'),
    ({"guard_alphas": "0.9,0"}, "guard_alphas must be in (0, 1] (the tuned model's weight in the mix), got 0"),
    ({"guard_alphas": [0.5, 1.5]}, "guard_alphas must be in (0, 1] (the tuned model's weight in the mix), got 1.5"),
    ({"guard_alphas": "0.9,half"}, 'guard_alphas must be numbers such as 0.9,0.8,0.7, got "half"'),
    ({"guard_alphas": "0.7,0.7"}, "guard_alphas lists 0.7 twice"),
    ({"guard_alphas": ","}, "guard_alphas needs at least one weight, e.g. 0.9,0.8,0.7"),
    ({"query_prompt": 5}, 'query_prompt must be text, got 5 (quote it in YAML, e.g. query_prompt: "query: ")'),
])
def test_bad_values_name_the_source(values: dict, message: str) -> None:
    assert config_error(values) == f"train.yaml: {message}"


def test_dashes_in_keys_are_accepted() -> None:
    assert build_config(TrainConfig, {"max-seq-length": 128}).max_seq_length == 128


def test_yaml_numbers_without_a_dot_still_count(tmp_path: Path) -> None:
    # YAML 1.1 reads 5e-5 (no dot) as a string; users write learning rates that way all the time.
    path = tmp_path / "train.yaml"
    path.write_text("learning_rate: 5e-5\nbatch_size: '16'\nepochs: 1\n", encoding="utf-8")
    config = build_config(TrainConfig, load_yaml(path), source=str(path))
    assert (config.learning_rate, config.batch_size, config.epochs) == (5e-5, 16, 1)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 1\n  batch_size: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_yaml(path)
    assert str(exc.value) == f"{path} line 2: invalid YAML (mapping values are not allowed here)"


def test_yaml_list_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("- epochs: 1\n- strategy: lora\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_yaml(path)
    assert str(exc.value) == f'{path}: expected a mapping of settings (one "key: value" per line), got list'


def test_missing_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_yaml(tmp_path / "nope.yaml")
    assert str(exc.value) == f"{tmp_path}/nope.yaml: config file not found"


def test_empty_yaml_is_no_settings(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert load_yaml(path) == {}


def test_lora_target_modules_from_a_comma_string() -> None:
    config = build_config(TrainConfig, {"lora_target_modules": "query, value,"})
    assert config.lora_target_modules == ["query", "value"]


def test_matryoshka_dims_from_a_comma_string_a_list_or_one_number(tmp_path: Path) -> None:
    assert build_config(TrainConfig, {"matryoshka_dims": "384, 256,128,64"}).matryoshka_dims == [384, 256, 128, 64]
    path = tmp_path / "train.yaml"
    path.write_text("matryoshka_dims: [384, 128]\n", encoding="utf-8")
    assert build_config(TrainConfig, load_yaml(path)).matryoshka_dims == [384, 128]
    assert build_config(TrainConfig, {"matryoshka_dims": 256}).matryoshka_dims == [256]
    assert TrainConfig().matryoshka_dims is None, "off unless asked for"


def test_prompts_default_to_the_model_s_own_and_empty_means_none() -> None:
    assert (TrainConfig().query_prompt, TrainConfig().document_prompt) == (None, None)
    config = build_config(TrainConfig, {"query_prompt": "query: ", "document_prompt": ""})
    assert (config.query_prompt, config.document_prompt) == ("query: ", "")


def test_learning_rate_default_depends_on_strategy() -> None:
    assert TrainConfig().resolved_learning_rate == 5e-5
    assert TrainConfig(strategy="lora").resolved_learning_rate == 5e-4
    assert TrainConfig(strategy="qlora").resolved_learning_rate == 5e-4
    assert TrainConfig(strategy="lora", learning_rate=1e-4).resolved_learning_rate == 1e-4
    assert TrainConfig(strategy="lora").to_dict()["learning_rate"] == 5e-4


def test_bad_precision_lists_choices() -> None:
    assert config_error({"precision": "fp8"}) == (
        'train.yaml: unknown precision "fp8" (choose one of: auto, fp32, bf16, fp16)')


def test_guard_is_off_by_default_and_alphas_come_from_a_comma_string_or_a_list(tmp_path: Path) -> None:
    config = TrainConfig()
    assert (config.guard_data, config.guard_split, config.guard_threshold) == (None, "test", 0.01)
    assert config.guard_alphas == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert build_config(TrainConfig, {"guard_alphas": "0.9, 0.75,1"}).guard_alphas == [0.9, 0.75, 1.0]
    path = tmp_path / "train.yaml"
    path.write_text("guard_data: ../shared/data/dbpedia-5k\nguard_threshold: 0\nguard_alphas: [0.8, 0.6]\n",
                    encoding="utf-8")
    config = build_config(TrainConfig, load_yaml(path))
    assert (config.guard_data, config.guard_threshold, config.guard_alphas) == (
        "../shared/data/dbpedia-5k", 0, [0.8, 0.6])
