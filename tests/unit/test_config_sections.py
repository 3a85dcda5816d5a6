"""TrainConfig's sections: every setting in one, and a YAML file may group settings by them."""
from __future__ import annotations

import dataclasses

import pytest

from embedtune.config import TRAIN_SECTIONS, TrainConfig, build_config, flatten_sections
from embedtune.errors import ConfigError


def test_every_setting_is_in_exactly_one_section() -> None:
    listed = [name for names in TRAIN_SECTIONS.values() for name in names]
    assert sorted(listed) == sorted(f.name for f in dataclasses.fields(TrainConfig))


def test_grouped_and_flat_settings_build_the_same_config() -> None:
    grouped = {"model": {"model": "m", "strategy": "lora", "lora_r": 8},
               "guard": {"data": "general", "threshold": 0.02},
               "matryoshka": {"dims": "384,128", "rotation": False},
               "schedule": {"epochs": "2", "learning_rate": "1e-4"},
               "loss": "mnrl"}  # a setting named like a section stays a setting when its value is not a mapping
    flat = {"model": "m", "strategy": "lora", "lora_r": 8, "guard_data": "general", "guard_threshold": 0.02,
            "matryoshka_dims": "384,128", "matryoshka_rotation": False, "epochs": "2", "learning_rate": "1e-4",
            "loss": "mnrl"}
    assert build_config(TrainConfig, grouped) == build_config(TrainConfig, flat)
    config = build_config(TrainConfig, grouped)
    assert config.to_sections()["guard"]["threshold"] == 0.02
    assert config.to_sections()["matryoshka"]["dims"] == [384, 128]


def test_a_wrong_key_in_a_section_names_the_section_and_the_closest_key() -> None:
    with pytest.raises(ConfigError, match=r'train.yaml: unknown key "treshold" in section "guard"; '
                                          r'did you mean "threshold"\?'):
        build_config(TrainConfig, {"guard": {"treshold": 0.1}}, "train.yaml")
    with pytest.raises(ConfigError, match='"guard_data" is given twice'):
        flatten_sections(TrainConfig, {"guard_data": "a", "guard": {"data": "b"}}, "train.yaml")
    with pytest.raises(ConfigError, match=r'unknown key "epochs" in section "guard"'):
        build_config(TrainConfig, {"guard": {"epochs": 3}}, "train.yaml")  # a real setting, in the wrong section


def test_every_setting_says_what_it_does_and_train_help_shows_it() -> None:
    from embedtune.cli.app import cli

    helps = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(TrainConfig)}
    assert all(len(text.split()) >= 2 for text in helps.values()), [n for n, t in helps.items() if len(t.split()) < 2]
    options = {p.name: p.help for p in reversed(cli.commands["train"].params)}  # the first of a --x/--no-x pair
    assert options["epochs"] == helps["epochs"] + " [default: 3]."
    assert options["guard_alphas"].startswith(helps["guard_alphas"])


def test_a_flat_key_in_two_spellings_keeps_the_later_as_before() -> None:
    """A YAML key spelt with hyphens and the flag that overrides it (underscores) are not "given twice"."""
    from embedtune.config import MineConfig

    assert build_config(MineConfig, {"num-negatives": 3, "num_negatives": 5}).num_negatives == 5
    assert build_config(TrainConfig, {"guard-data": "yaml", "guard_data": "flag"}).guard_data == "flag"
