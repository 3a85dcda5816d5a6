"""The contrastive losses: the other rows' positives (and every row's hard negatives) are each query's negatives.

They differ in memory and in how they guard against false negatives:
- ``mnrl``: MultipleNegativesRankingLoss, the standard;
- ``cached_mnrl``: the same loss computed in mini-batches with cached gradients (GradCache), so a
  large batch - more negatives per query - fits in little memory;
- ``gist``: GISTEmbedLoss, where a guide model vetoes in-batch negatives it rates as relevant as the
  positive (false negatives that in-batch sampling draws by chance).

Under torchrun/accelerate each process's queries also see the other processes' documents as
negatives (``gather_across_devices``), so N processes train like one batch of N x batch_size.
"""
from __future__ import annotations

from typing import Any

from embedtune.errors import ConfigError
from embedtune.loss_registry import LossSpec, register_loss


def _mnrl(model: Any, config: Any, distributed: bool, extra: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, gather_across_devices=distributed)


def _cached_mnrl(model: Any, config: Any, distributed: bool, extra: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import CachedMultipleNegativesRankingLoss

    return CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size,
                                              gather_across_devices=distributed)


def _gist(model: Any, config: Any, distributed: bool, extra: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import GISTEmbedLoss

    from embedtune.models import load_model

    if not config.guide_model:
        raise ConfigError("loss gist needs a guide model: set guide_model (--guide-model), e.g. a larger "
                          "embedding model, or the base model itself")
    guide = load_model(config.guide_model, device=str(model.device), max_seq_length=config.max_seq_length)
    return GISTEmbedLoss(model, guide=guide, gather_across_devices=distributed)


register_loss(LossSpec("mnrl", "", _mnrl, in_batch=True, matryoshka=True))
register_loss(LossSpec("cached_mnrl", "big batches in small memory", _cached_mnrl, in_batch=True, matryoshka=True))
register_loss(LossSpec("gist", "a guide model vetoes false negatives", _gist, in_batch=True, matryoshka=True))
