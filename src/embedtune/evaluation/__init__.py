"""Metrics, scoring a model on a labelled split, cross-encoder reranking and evaluation reports."""
from __future__ import annotations

from embedtune.inference.cache import EmbeddingCache
from embedtune.evaluation.evaluate import evaluate_model, evaluate_path, sample_corpus
from embedtune.evaluation.metrics import DEFAULT_METRICS, evaluate_run
from embedtune.evaluation.report import EvalReport, comparison_table

__all__ = ["DEFAULT_METRICS", "EmbeddingCache", "EvalReport", "comparison_table", "evaluate_model", "evaluate_path",
           "evaluate_run", "sample_corpus"]
