"""One object per loss: a loss registered from outside the package trains with no other module touched."""
from __future__ import annotations

import json

import pytest

from embedtune.config import TrainConfig
from embedtune.errors import ConfigError
from embedtune.loss_registry import LossSpec, loss_names, loss_spec, register_loss, unregister_loss


def test_the_builtin_losses_keep_their_order_and_declarations() -> None:
    assert loss_names()[:6] == ("mnrl", "cached_mnrl", "gist", "margin_mse", "margin_kl", "embedding_mse")
    assert [n for n in loss_names() if loss_spec(n).in_batch] == ["mnrl", "cached_mnrl", "gist"]
    assert [n for n in loss_names() if loss_spec(n).teacher] == ["margin_mse", "margin_kl", "embedding_mse"]
    assert not loss_spec("margin_kl").several_datasets
    with pytest.raises(ConfigError, match=r'unknown loss "mse" \(choose one of: mnrl, cached_mnrl'):
        TrainConfig(loss="mse")
    with pytest.raises(ValueError, match="already registered"):
        register_loss(LossSpec("mnrl", "", lambda *a: None))


@pytest.fixture
def toy_loss():
    """A loss with its own columns (a constant label), its own settings check and its own builder."""
    built: list[object] = []

    def columns(rows, config, model, cache, show_progress, precision):
        texts = rows.to_columns()
        return {**texts, "label": [1.0] * len(rows)}, "from-columns"

    def build(model, config, distributed, extra):
        from sentence_transformers.sentence_transformer.losses import CosineSimilarityLoss

        built.append(extra)
        return CosineSimilarityLoss(model)

    def check(config):
        if config.batch_size > 64:
            raise ConfigError("loss toy_cosine wants batch_size <= 64")

    register_loss(LossSpec("toy_cosine", "pull each query onto its positive", build, columns=columns,
                           check_settings=check))
    yield built
    unregister_loss("toy_cosine")


def test_a_loss_registered_from_outside_trains_end_to_end(toy_loss, tmp_path) -> None:
    from embedtune.inference.cache import EmbeddingCache
    from embedtune.training import train_model
    from tests.tiny_models import tiny_bert

    assert "toy_cosine" in loss_names()
    with pytest.raises(ConfigError, match="toy_cosine wants batch_size <= 64"):
        TrainConfig(loss="toy_cosine", batch_size=128)
    with pytest.raises(ConfigError, match=r"matryoshka_dims works with the contrastive losses \(mnrl, cached_mnrl, "
                                          r"gist\), not toy_cosine"):
        TrainConfig(loss="toy_cosine", matryoshka_dims=[32, 16])
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"query": f"what is item {i}", "positive": f"Item {i} is a thing of kind {i % 5}."})
                             + "\n" for i in range(40)), encoding="utf-8")
    result = train_model(pairs, tmp_path / "run",
                         TrainConfig(model=str(tiny_bert(tmp_path / "tiny")), loss="toy_cosine", epochs=1,
                                     batch_size=8, max_seq_length=32, recipe="fixed"),
                         show_progress=False, cache=EmbeddingCache(tmp_path / "cache"))
    assert toy_loss == ["from-columns"], "the builder got what the loss's own columns step made"
    assert result.config["loss"] == "toy_cosine" and result.loss_history
    assert (tmp_path / "run" / "model.safetensors").is_file()
