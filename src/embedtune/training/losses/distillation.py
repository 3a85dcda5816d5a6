"""The distillation losses: a teacher's scores or embeddings are the labels (``embedtune.training.distill``).

- ``margin_mse`` (MarginMSE): for each (query, positive, negative) row the student learns the
  teacher's score margin; the margins are computed once, before training, and cached.
- ``margin_kl``: ``margin_mse`` plus the teacher's ranking of every document in the batch
  (``embedtune.training.listwise``); its teacher scores each batch during training, so it must be
  a bi-encoder or the hybrid teacher, and it trains on one data set.
- ``embedding_mse``: the student's embedding of every training text is pulled onto a same-size
  bi-encoder teacher's embedding of it.
"""
from __future__ import annotations

from typing import Any

from embedtune.errors import ConfigError
from embedtune.loss_registry import LossSpec, register_loss


def _teacher_labels(rows: Any, config: Any, model: Any, cache: Any, show_progress: bool,
                    precision: str) -> tuple[dict[str, list], None]:
    from embedtune.training.distill import distillation_columns

    return distillation_columns(rows, config, model, cache, show_progress, precision), None


def _batch_teacher(rows: Any, config: Any, model: Any, cache: Any, show_progress: bool,
                   precision: str) -> tuple[dict[str, list], Any]:
    from embedtune.training.distill import listwise_columns

    return listwise_columns(rows, config, show_progress, precision, cache)


def _margin_mse(model: Any, config: Any, distributed: bool, extra: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import MarginMSELoss

    return MarginMSELoss(model)  # dot product of normalised embeddings: the cosine the model is used with


def _margin_kl(model: Any, config: Any, distributed: bool, pair_scorer: Any) -> Any:
    from embedtune.training.listwise import ListwiseMarginLoss

    if pair_scorer is None:
        raise ConfigError("loss margin_kl needs its teacher's scorer (from distill.listwise_columns)")
    return ListwiseMarginLoss(model, pair_scorer)


def _embedding_mse(model: Any, config: Any, distributed: bool, extra: Any) -> Any:
    from sentence_transformers.sentence_transformer.losses import MSELoss

    return MSELoss(model)


def _rows_have_negatives(name: str) -> Any:
    def check(rows: Any) -> None:
        from embedtune.training.distill import check_distillation_rows

        check_distillation_rows(rows, name)

    return check


register_loss(LossSpec("margin_mse", "learn a --teacher's score margins on hard negatives", _margin_mse,
                       columns=_teacher_labels, teacher="its score margins", needs_negatives=True,
                       check_rows=_rows_have_negatives("margin_mse")))
register_loss(LossSpec("margin_kl", "those margins plus the teacher's ranking of every document in the batch "
                       "(bi-encoder or hybrid teacher)", _margin_kl, columns=_batch_teacher,
                       teacher="its margins and its ranking of each batch",
                       teacher_examples="hybrid or all-mpnet-base-v2", needs_negatives=True, several_datasets=False,
                       check_rows=_rows_have_negatives("margin_kl")))
register_loss(LossSpec("embedding_mse", "copy a same-size bi-encoder --teacher's embeddings", _embedding_mse,
                       columns=_teacher_labels, teacher="its embeddings"))
