"""Contrastive losses, registered in one place: how each is built for a run.

The three contrastive losses treat the other rows' positives (and every row's hard negatives) as negatives for each
query; they differ in memory and in how they guard against false negatives:
- ``mnrl``: MultipleNegativesRankingLoss, the standard;
- ``cached_mnrl``: the same loss computed in mini-batches with cached gradients (GradCache), so a
  large batch - more negatives per query - fits in little memory;
- ``gist``: GISTEmbedLoss, where a guide model vetoes in-batch negatives it rates as relevant as the
  positive (false negatives that in-batch sampling draws by chance).

``margin_mse`` and ``embedding_mse`` distil a teacher instead (see ``embedtune.training.distill``):
their labels are the teacher's score margins or embeddings, computed before training.
``margin_kl`` adds the teacher's ranking of every document in the batch to ``margin_mse``
(``embedtune.training.listwise``); its teacher scores each batch during training.

With ``matryoshka_dims`` set, the chosen loss is wrapped in MatryoshkaLoss: it is computed on the
embeddings truncated to each listed size (and re-normalised) and summed, so the first d
dimensions of an embedding work on their own. MatryoshkaLoss handles cached_mnrl by truncating
the cached mini-batch embeddings instead of re-running the forward pass.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from embedtune.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.config import TrainConfig
    from embedtune.training.hybrid_teacher import PairScorer


def _mnrl(model: SentenceTransformer, config: TrainConfig, distributed: bool) -> Any:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, gather_across_devices=distributed)


def _cached_mnrl(model: SentenceTransformer, config: TrainConfig, distributed: bool) -> Any:
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    return CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size,
                                              gather_across_devices=distributed)


def _gist(model: SentenceTransformer, config: TrainConfig, distributed: bool) -> Any:
    from sentence_transformers.sentence_transformer.losses import GISTEmbedLoss

    from embedtune.models import load_model

    if not config.guide_model:
        raise ConfigError("loss gist needs a guide model: set guide_model (--guide-model), e.g. a larger "
                          "embedding model, or the base model itself")
    guide = load_model(config.guide_model, device=str(model.device), max_seq_length=config.max_seq_length)
    return GISTEmbedLoss(model, guide=guide, gather_across_devices=distributed)


def _margin_mse(model: SentenceTransformer, config: TrainConfig, distributed: bool) -> Any:
    from sentence_transformers.sentence_transformer.losses import MarginMSELoss

    return MarginMSELoss(model)  # dot product of normalised embeddings: the cosine the model is used with


def _embedding_mse(model: SentenceTransformer, config: TrainConfig, distributed: bool) -> Any:
    from sentence_transformers.sentence_transformer.losses import MSELoss

    return MSELoss(model)


LOSSES: dict[str, Callable[[SentenceTransformer, TrainConfig, bool], Any]] = {
    "mnrl": _mnrl,
    "cached_mnrl": _cached_mnrl,
    "gist": _gist,
    "margin_mse": _margin_mse,
    "embedding_mse": _embedding_mse,
}


def build_loss(model: SentenceTransformer, config: TrainConfig, distributed: bool,
               pair_scorer: PairScorer | None = None) -> Any:
    """The configured loss; under torchrun/accelerate, negatives are gathered across processes.

    ``margin_kl`` needs ``pair_scorer``, the teacher that scores its batches
    (``embedtune.training.distill.listwise_columns`` makes both it and the rows' labels)."""
    if config.loss == "margin_kl":
        from embedtune.training.listwise import ListwiseMarginLoss

        if pair_scorer is None:
            raise ConfigError("loss margin_kl needs its teacher's scorer (from distill.listwise_columns)")
        return ListwiseMarginLoss(model, pair_scorer)
    loss = LOSSES[config.loss](model, config, distributed)
    if config.matryoshka_dims:
        from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

        weights = list(config.matryoshka_weights) if config.matryoshka_weights else None
        loss = MatryoshkaLoss(model, loss, matryoshka_dims=list(config.matryoshka_dims), matryoshka_weights=weights)
    return loss
