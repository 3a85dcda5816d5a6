"""The training dropout setting: every rate inside the model changes, the saved config does not."""
from __future__ import annotations

import torch

from embedtune.models import load_model
from embedtune.config import TrainConfig
from embedtune.training.dropout import apply_training_dropout, set_dropout


def _rates(model) -> set[float]:
    return {m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)}


def test_set_dropout_reaches_every_layer_and_leaves_the_config() -> None:
    model = load_model(None, max_seq_length=32)
    config = model[0].auto_model.config
    assert _rates(model) == {0.1}
    changed = set_dropout(model, 0.0)
    assert changed >= 13  # embeddings + 6 layers x (attention, two hidden-state dropouts)
    assert _rates(model) == {0.0}
    assert (config.hidden_dropout_prob, config.attention_probs_dropout_prob) == (0.1, 0.1)


def test_zero_dropout_makes_training_mode_deterministic() -> None:
    """With the rates at zero, two forward passes in train mode agree: nothing random is left."""
    model = load_model(None, max_seq_length=32)
    features = model.tokenize(["a query about proteins", "a much longer text about protein folding rates"])
    model.train()
    with torch.no_grad():
        first, second = (model(dict(features))["sentence_embedding"] for _ in range(2))
    assert not torch.allclose(first, second)  # the model's own dropout is on
    set_dropout(model, 0.0)
    with torch.no_grad():
        first, second = (model(dict(features))["sentence_embedding"] for _ in range(2))
    torch.testing.assert_close(first, second)


def _rates_by_kind(model) -> dict[str, set[float]]:
    """Dropout rates of BERT's attention-probability dropouts and of every other dropout."""
    kinds: dict[str, set[float]] = {"attention": set(), "hidden": set()}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Dropout):
            kinds["attention" if name.endswith("attention.self.dropout") else "hidden"].add(module.p)
    return kinds


def test_attention_dropout_is_set_apart_from_the_hidden_dropout() -> None:
    model = load_model(None, max_seq_length=32)
    set_dropout(model, 0.1, attention_rate=0.0)
    assert _rates_by_kind(model) == {"attention": {0.0}, "hidden": {0.1}}


def test_attention_dropout_alone_keeps_the_models_hidden_dropout() -> None:
    model = load_model(None, max_seq_length=32)
    set_dropout(model, 0.3)  # stands in for a model whose own rate is not 0.1
    apply_training_dropout(model, TrainConfig(dropout=None, attention_dropout=0.0))
    assert _rates_by_kind(model) == {"attention": {0.0}, "hidden": {0.3}}


def test_no_dropout_settings_leave_the_model_alone() -> None:
    model = load_model(None, max_seq_length=32)
    apply_training_dropout(model, TrainConfig(dropout=None))
    assert _rates_by_kind(model) == {"attention": {0.1}, "hidden": {0.1}}
