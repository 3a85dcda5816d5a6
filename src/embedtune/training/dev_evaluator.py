"""Dev-split retrieval evaluation that the trainer runs to pick the best checkpoint."""
from __future__ import annotations

from typing import Any

from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from embedtune.data.types import RetrievalSet
from embedtune.evaluation.evaluate import evaluate_model

DEV_METRICS = ("ndcg@10", "mrr@10", "recall@10")


class DevRetrievalEvaluator(BaseEvaluator):
    """Reports ``dev_ndcg@10`` (primary), ``dev_mrr@10`` and ``dev_recall@10``.

    Uses embedtune's own metrics so the number that picks the checkpoint is the same number
    ``embedtune eval`` prints.
    """

    def __init__(self, dev: RetrievalSet, batch_size: int = 32, backend: str = "torch") -> None:
        super().__init__()
        self.dev = dev
        self.batch_size = batch_size
        self.backend = backend
        self.primary_metric = "ndcg@10"
        self.history: list[dict[str, Any]] = []

    def __call__(self, model: Any, output_path: str | None = None, epoch: float = -1,
                 steps: int = -1) -> dict[str, float]:
        report = evaluate_model(model, self.dev, metrics=DEV_METRICS, batch_size=self.batch_size,
                                backend=self.backend)
        self.history.append({"epoch": epoch, "step": steps, **report.metrics})
        return self.prefix_name_to_metrics(dict(report.metrics), "dev")
