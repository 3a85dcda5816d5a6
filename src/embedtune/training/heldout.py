"""Scoring a run's model on each data set's held-out split, before and after training, and the report's facts.

The held-out split is only scored: nothing in a run looks at it to choose anything.
"""
from __future__ import annotations

import logging
from typing import Any

from embedtune.data.types import RetrievalSet
from embedtune.evaluation.evaluate import evaluate_bm25, evaluate_model
from embedtune.evaluation.report import EvalReport
from embedtune.evaluation.report_html import TOP_DOCUMENTS, build_facts
from embedtune.inference.cache import EmbeddingCache
from embedtune.training.result import TrainResult

logger = logging.getLogger(__name__)


def score_heldout(model: Any, heldout: RetrievalSet | None, cache: EmbeddingCache, show_progress: bool,
                  label: str, dims: list[int] | None) -> EvalReport | None:
    """The model's report on ``heldout`` (None without one), with the top documents and sizes the
    report's per-query moves and size plot need."""
    if heldout is None:
        return None
    logger.info("scoring the %s on %s split %s", label, heldout.source, heldout.split)
    return evaluate_model(model, heldout, cache=cache, show_progress=show_progress, dims=dims,
                          keep_top=TOP_DOCUMENTS)


def report_facts(result: TrainResult, base_report: EvalReport | None, tuned_report: EvalReport | None,
                 heldout: RetrievalSet | None, base_model: str) -> dict[str, Any]:
    """What report.html and the model card show: held-out scores, BM25 on the same split, curves, guard."""
    bm25 = (evaluate_bm25(heldout, metrics=list(tuned_report.metrics))
            if heldout and tuned_report and not heldout.has_images else None)  # BM25 cannot read images
    return build_facts(model=result.model_dir, base_model=base_model, base=base_report, tuned=tuned_report,
                       data=heldout, bm25=bm25, training=result.to_dict(), guard=result.guard, kind="train")
