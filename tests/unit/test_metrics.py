"""Our metrics must equal trec_eval's (via pytrec_eval) on the same run, to 1e-6."""
from __future__ import annotations

import math
import random

import pytest

from embedtune.data import load_beir
from embedtune.errors import ConfigError
from embedtune.evaluation.metrics import DEFAULT_METRICS, evaluate_run, parse_metric, query_metrics

pytrec_eval = pytest.importorskip("pytrec_eval")

# embedtune name -> (pytrec_eval measure, key in its output); MRR@10 is recip_rank on the top-10 run.
TREC = {"ndcg": ("ndcg_cut", "ndcg_cut_{k}"), "map": ("map_cut", "map_cut_{k}"),
        "recall": ("recall", "recall_{k}"), "precision": ("P", "P_{k}")}


def random_run(qrels: dict, doc_ids: list[str], depth: int, seed: int) -> dict[str, dict[str, float]]:
    """A run with distinct scores that mixes judged documents (relevant and not) into random ones."""
    rng = random.Random(seed)
    run = {}
    for qid, judged in qrels.items():
        candidates = set(rng.sample(doc_ids, depth)) | {d for d in judged if rng.random() < 0.7}
        scores = rng.sample(range(10 * len(candidates)), len(candidates))
        run[qid] = {d: s / 7.0 for d, s in zip(sorted(candidates), scores)}
    return run


def trec_value(qrels: dict, run: dict, metric: str) -> dict[str, float]:
    kind, k = parse_metric(metric)
    if kind == "mrr":
        top = {q: dict(sorted(docs.items(), key=lambda kv: -kv[1])[:k]) for q, docs in run.items()}
        out = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top)
        return {q: v["recip_rank"] for q, v in out.items()}
    measure, key = TREC[kind]
    out = pytrec_eval.RelevanceEvaluator(qrels, {f"{measure}.{k}"}).evaluate(run)
    return {q: v[key.format(k=k)] for q, v in out.items()}


@pytest.mark.parametrize("dataset,split", [("scifact_like", "test"), ("dbpedia_like", "test")])
def test_metrics_equal_pytrec_eval_on_fixture_qrels(dataset: str, split: str,
                                                    request: pytest.FixtureRequest) -> None:
    """Binary qrels (SciFact-like) and graded 0/1/2 ones with many judgments per query (DBpedia-like)."""
    data = load_beir(request.getfixturevalue(dataset), split)
    qrels = {q: dict(j) for q, j in data.qrels.items() if any(g > 0 for g in j.values())}
    run = random_run(qrels, sorted(data.corpus), depth=150, seed=7)
    _, ours = evaluate_run(qrels, run, DEFAULT_METRICS)
    for metric in DEFAULT_METRICS:
        theirs = trec_value(qrels, run, metric)
        assert set(theirs) == set(ours)
        worst = max(abs(ours[q][metric] - theirs[q]) for q in ours)
        assert worst < 1e-6, f"{metric}: differs from pytrec_eval by {worst}"


def test_graded_ndcg_uses_linear_gains_and_ignores_grade_zero() -> None:
    judged = {"a": 2, "b": 0, "c": 1}
    # ranking b (judged not relevant), c, a: DCG = 1/log2(3) + 2/log2(4); IDCG = 2 + 1/log2(3)
    got = query_metrics(["b", "c", "a"], judged, ["ndcg@3", "mrr@3", "recall@1", "precision@3", "map@3"])
    assert got["ndcg@3"] == pytest.approx((1 / math.log2(3) + 2 / 2) / (2 + 1 / math.log2(3)))
    assert got["mrr@3"] == pytest.approx(1 / 2)
    assert got["recall@1"] == 0.0
    assert got["precision@3"] == pytest.approx(2 / 3)
    assert got["map@3"] == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_unanswered_query_scores_zero_rather_than_vanishing() -> None:
    mean, per_query = evaluate_run({"q1": {"d1": 1}, "q2": {"d2": 1}}, {"q1": {"d1": 1.0}}, ["ndcg@10"])
    assert per_query["q2"]["ndcg@10"] == 0.0
    assert mean["ndcg@10"] == pytest.approx(0.5)


def test_queries_with_only_grade_zero_labels_are_not_scored() -> None:
    _, per_query = evaluate_run({"q1": {"d1": 1}, "q2": {"d2": 0}}, {"q1": {"d1": 1.0}, "q2": {"d2": 1.0}},
                                ["ndcg@10"])
    assert list(per_query) == ["q1"]


@pytest.mark.parametrize("name", ["ndcg", "ndcg@0", "f1@10", "recall@x"])
def test_unknown_metric_names_are_rejected_with_the_valid_form(name: str) -> None:
    with pytest.raises(ConfigError, match=f'unknown metric "{name}": use KIND@K with KIND one of '
                                          "ndcg, mrr, map, recall, precision"):
        parse_metric(name)
