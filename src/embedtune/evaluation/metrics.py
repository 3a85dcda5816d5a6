"""Ranking metrics with trec_eval's definitions (checked against pytrec_eval in the tests).

Relevance is graded: a document counts as relevant when its grade is above 0, and nDCG uses
the grade as a linear gain, as trec_eval does. Runs are ranked by score, ties broken by
descending document id, which is trec_eval's order.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from embedtune.errors import ConfigError

DEFAULT_METRICS = (
    "ndcg@1", "ndcg@3", "ndcg@5", "ndcg@10", "ndcg@100",
    "mrr@10",
    "map@10", "map@100",
    "recall@1", "recall@5", "recall@10", "recall@100",
    "precision@1", "precision@5", "precision@10",
)
_KINDS = ("ndcg", "mrr", "map", "recall", "precision")
_NAME = re.compile(r"^(ndcg|mrr|map|recall|precision)@(\d+)$")

Qrels = Mapping[str, Mapping[str, int]]
Run = Mapping[str, Mapping[str, float]]


def parse_metric(name: str) -> tuple[str, int]:
    """``"ndcg@10"`` → ``("ndcg", 10)``; anything else is a ConfigError listing the valid forms."""
    match = _NAME.match(name.strip().lower())
    if not match or int(match.group(2)) < 1:
        raise ConfigError(f'unknown metric "{name}": use KIND@K with KIND one of {", ".join(_KINDS)} '
                          "and K ≥ 1, e.g. ndcg@10")
    return match.group(1), int(match.group(2))


def rank(scores: Mapping[str, float]) -> list[str]:
    """Document ids by descending score, ties by descending id (trec_eval's order)."""
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def query_metrics(ranking: Sequence[str], judged: Mapping[str, int], metrics: Sequence[str]) -> dict[str, float]:
    """Every metric in ``metrics`` for one ranked list against one query's judgments."""
    relevant = {d: g for d, g in judged.items() if g > 0}
    hits = [relevant.get(d, 0) for d in ranking]
    ideal = sorted(relevant.values(), reverse=True)
    out: dict[str, float] = {}
    for name in metrics:
        kind, k = parse_metric(name)
        top = hits[:k]
        if not relevant:
            out[name] = 0.0
        elif kind == "ndcg":
            dcg = sum(g / math.log2(i + 2) for i, g in enumerate(top) if g)
            idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))
            out[name] = dcg / idcg
        elif kind == "mrr":
            out[name] = next((1.0 / (i + 1) for i, g in enumerate(top) if g), 0.0)
        elif kind == "map":
            found, precision_sum = 0, 0.0
            for i, g in enumerate(top):
                if g:
                    found += 1
                    precision_sum += found / (i + 1)
            out[name] = precision_sum / len(relevant)
        elif kind == "recall":
            out[name] = sum(1 for g in top if g) / len(relevant)
        else:  # precision
            out[name] = sum(1 for g in top if g) / k
    return out


def evaluate_run(qrels: Qrels, run: Run, metrics: Sequence[str] = DEFAULT_METRICS
                 ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query metrics over the queries that have a positive judgment.

    A query that the run does not answer scores 0 (it is not silently left out, which would
    flatter a system that fails on hard queries).
    """
    for name in metrics:
        parse_metric(name)
    per_query = {
        qid: query_metrics(rank(run.get(qid, {})), judged, metrics)
        for qid, judged in qrels.items()
        if any(g > 0 for g in judged.values())
    }
    if not per_query:
        raise ConfigError("no query has a positive judgment (grade > 0); nothing to evaluate")
    mean = {m: sum(v[m] for v in per_query.values()) / len(per_query) for m in metrics}
    return mean, per_query
