"""Dev-split retrieval evaluation that the trainer runs to pick the best checkpoint."""
from __future__ import annotations

from typing import Any

from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

from embedtune.data.types import RetrievalSet
from embedtune.evaluation.evaluate import evaluate_model

DEV_METRICS = ("ndcg@10", "mrr@10", "recall@10")
DIMS_MEAN = "ndcg@10_dims_mean"  # the selection metric of Matryoshka runs (see TrainConfig.select_on)


class DevRetrievalEvaluator(BaseEvaluator):
    """Reports ``dev_ndcg@10`` (primary), ``dev_mrr@10`` and ``dev_recall@10``.

    Uses embedtune's own metrics so the number that picks the checkpoint is the same number
    ``embedtune eval`` prints. With several dev sets (multi-dataset training) each is searched
    in its own corpus, its scores are reported as ``dev_<i>_...``, and ``dev_...`` is their
    unweighted mean, so a small data set counts as much as a large one in the checkpoint choice.

    With ``dims`` (Matryoshka training) it also reports ``dev_ndcg@10@<dim>`` for each truncated
    size and ``dev_ndcg@10_dims_mean``, their mean with the full size, which is then the primary
    metric: a checkpoint that is best at full size can be worse once truncated.
    """

    def __init__(self, dev: RetrievalSet | list[RetrievalSet], batch_size: int = 32, backend: str = "torch",
                 dims: list[int] | None = None) -> None:
        super().__init__()
        self.devs = dev if isinstance(dev, list) else [dev]
        self.batch_size = batch_size
        self.backend = backend
        self.dims = list(dims) if dims else None
        self.primary_metric = DIMS_MEAN if self.dims else "ndcg@10"
        self.history: list[dict[str, Any]] = []
        self.per_query: dict[str, float] = {}  # the first dev set's nDCG@10 per query at the last call

    @property
    def best_model_metric(self) -> str:
        """The trainer's ``metric_for_best_model``: the primary metric as the trainer logs it."""
        return f"eval_dev_{self.primary_metric}"

    def __call__(self, model: Any, output_path: str | None = None, epoch: float = -1,
                 steps: int = -1) -> dict[str, float]:
        scores = [self._score(model, dev) for dev in self.devs]
        metrics = {m: sum(s[m] for s in scores) / len(scores) for m in scores[0]}
        if len(scores) > 1:
            metrics.update({f"{i}_{m}": v for i, s in enumerate(scores) for m, v in s.items()})
        self.history.append({"epoch": epoch, "step": steps, **metrics})
        return self.prefix_name_to_metrics(metrics, "dev")

    def _score(self, model: Any, dev: RetrievalSet) -> dict[str, float]:
        report = evaluate_model(model, dev, metrics=DEV_METRICS, batch_size=self.batch_size, backend=self.backend,
                                dims=self.dims)
        if dev is self.devs[0]:  # what --recipe auto bootstraps over
            self.per_query = {qid: scores["ndcg@10"] for qid, scores in report.per_query.items()}
        if not self.dims:
            return report.metrics
        by_dim = {dim: metrics["ndcg@10"] for dim, metrics in report.by_dim.items()}
        return {**report.metrics, **{f"ndcg@10@{dim}": value for dim, value in by_dim.items()},
                DIMS_MEAN: sum(by_dim.values()) / len(by_dim)}
