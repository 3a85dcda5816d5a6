"""EvalReport: the result of one evaluation, with the ways people want to read it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune._io import write_json_atomic


@dataclass
class EvalReport:
    """Mean metrics, per-query metrics and what was evaluated.

    ``by_dim`` holds the mean metrics of the embeddings truncated to each size asked for (and of
    the full size, equal to ``metrics``), largest first; empty unless sizes were asked for.
    ``operating_points`` (with ``--quantize``) lists each (size, precision) scored, as
    ``{"dim", "precision", "bytes_per_vector", "metrics"}``; ``two_stage`` (with ``--rerank``) holds
    ``{"cross_encoder", "rerank_top", "metrics"}`` of the dense run reranked by a cross-encoder.
    ``top_documents`` holds each query's best document ids, best first, when ``keep_top`` was
    asked for (the HTML report shows which documents moved); it stays out of ``to_dict``.
    """

    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]
    model: str = ""
    data: str = ""
    split: str = ""
    num_queries: int = 0
    num_documents: int = 0
    skipped_queries: int = 0
    seconds: float = 0.0
    backend: str = "torch"
    by_dim: dict[int, dict[str, float]] = field(default_factory=dict)
    operating_points: list[dict[str, Any]] = field(default_factory=list)
    two_stage: dict[str, Any] = field(default_factory=dict)
    top_documents: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": self.metrics,
            "per_query": self.per_query,
            "model": self.model,
            "data": self.data,
            "split": self.split,
            "num_queries": self.num_queries,
            "num_documents": self.num_documents,
            "skipped_queries": self.skipped_queries,
            "seconds": round(self.seconds, 3),
            "backend": self.backend,
            "by_dim": {str(dim): scores for dim, scores in self.by_dim.items()},
            "operating_points": self.operating_points,
            "two_stage": self.two_stage,
            **self.extra,
        }

    def save(self, path: str | Path) -> None:
        write_json_atomic(path, self.to_dict())

    def to_table(self) -> str:
        """Metrics as an aligned table: one value column, or one column per embedding size."""
        width = max(len(m) for m in self.metrics)
        if any(p["precision"] != "float32" for p in self.operating_points):
            lines = self._operating_point_lines()
        elif self.by_dim:
            heads = [f"dim {d}" for d in self.by_dim]
            lines = [f"{'metric':<{width}}  " + "  ".join(f"{h:>8}" for h in heads),
                     f"{'-' * width}  " + "  ".join("-" * 8 for _ in heads)]
            lines += [f"{m:<{width}}  " + "  ".join(f"{scores[m]:>8.4f}" for scores in self.by_dim.values())
                      for m in self.metrics]
            lines.append("(embeddings truncated to the first dim dimensions and re-normalised)")
        else:
            lines = [f"{'metric':<{width}}  value", f"{'-' * width}  ------"]
            lines += [f"{m:<{width}}  {v:.4f}" for m, v in self.metrics.items()]
        if self.two_stage:
            shown = [m for m in self.metrics if m in self.two_stage["metrics"]]
            lines.append(f"two-stage: top {self.two_stage['rerank_top']} reranked by "
                         f"{self.two_stage['cross_encoder']}: " + ", ".join(
                             f"{m} {self.two_stage['metrics'][m]:.4f} ({self.two_stage['metrics'][m] - self.metrics[m]:+.4f})"
                             for m in shown))
        lines.append(f"{self.num_queries} queries, {self.num_documents} documents, "
                     f"{self.skipped_queries} skipped (no positive label), {self.seconds:.1f}s")
        return "\n".join(lines)

    def _operating_point_lines(self) -> list[str]:
        """One row per (size, precision): what a vector costs next to what it retrieves."""
        shown = [m for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10") if m in self.metrics] or \
            list(self.metrics)[:3]
        lines = [f"{'dim':>5}  {'precision':<9}  {'bytes/vector':>12}  " + "  ".join(f"{m:>10}" for m in shown),
                 f"{'-' * 5}  {'-' * 9}  {'-' * 12}  " + "  ".join("-" * 10 for _ in shown)]
        lines += [f"{p['dim']:>5}  {p['precision']:<9}  {p['bytes_per_vector']:>12}  "
                  + "  ".join(f"{p['metrics'][m]:>10.4f}" for m in shown) for p in self.operating_points]
        lines.append("(int8: documents stored as 1 byte per dimension, float queries; binary: 1 bit per "
                     "dimension, Hamming distance; smaller dims are truncated and re-normalised first)")
        return lines


def comparison_table(before: dict[str, float], after: dict[str, float],
                     labels: tuple[str, str] = ("before", "after")) -> str:
    """Side-by-side metrics with the change, the table every stage ends with."""
    names = [m for m in before if m in after]
    width = max(len(m) for m in names + ["metric"])
    lines = [f"{'metric':<{width}}  {labels[0]:>8}  {labels[1]:>8}  {'change':>8}",
             f"{'-' * width}  {'-' * 8}  {'-' * 8}  {'-' * 8}"]
    lines += [f"{m:<{width}}  {before[m]:>8.4f}  {after[m]:>8.4f}  {after[m] - before[m]:>+8.4f}" for m in names]
    return "\n".join(lines)
