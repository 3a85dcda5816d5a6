"""The built-in training losses, each declared once as a ``LossSpec`` (``embedtune.loss_registry``).

Importing this package registers them, in the order ``--loss`` lists them: the contrastive losses
(``contrastive``), then the distillation losses (``distillation``). A new loss is a new module here
that calls ``register_loss``, plus its import below; code outside never names a loss.

With ``matryoshka_dims`` set, a loss that allows it is wrapped in MatryoshkaLoss: it is computed on
the embeddings truncated to each listed size (and re-normalised) and summed, so the first d
dimensions of an embedding work on their own. MatryoshkaLoss handles cached_mnrl by truncating
the cached mini-batch embeddings instead of re-running the forward pass.
"""
from __future__ import annotations

from typing import Any

from embedtune.loss_registry import loss_spec
from embedtune.training.losses import contrastive, distillation  # noqa: F401  (they register the built-ins)


def training_columns(rows: Any, config: Any, model: Any, cache: Any, show_progress: bool,
                     precision: str) -> tuple[dict[str, list], Any]:
    """The trainer's columns for ``config.loss`` (texts, plus a teacher's labels where it learns from
    one), and whatever its builder needs from that step (``margin_kl``'s batch teacher)."""
    spec = loss_spec(config.loss)
    if spec.columns is None:
        return rows.to_columns(), None
    return spec.columns(rows, config, model, cache, show_progress, precision)


def build_loss(model: Any, config: Any, distributed: bool, pair_scorer: Any = None) -> Any:
    """The configured loss; under torchrun/accelerate, negatives are gathered across processes.

    ``pair_scorer`` is what ``training_columns`` returned beside the columns (``margin_kl``'s teacher)."""
    loss = loss_spec(config.loss).build(model, config, distributed, pair_scorer)
    if config.matryoshka_dims:
        from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

        weights = list(config.matryoshka_weights) if config.matryoshka_weights else None
        loss = MatryoshkaLoss(model, loss, matryoshka_dims=list(config.matryoshka_dims), matryoshka_weights=weights)
    return loss
