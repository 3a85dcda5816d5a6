"""Hard-negative mining on SciFact-like slices: what ends up in the training file, and what never does."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from embedtune.config import MineConfig
from embedtune.data import RetrievalSet
from embedtune.data.beir import load_beir
from embedtune.data.pairs import load_pairs
from embedtune.errors import ConfigError
from embedtune.mining import MiningError, mine_hard_negatives
from embedtune.mining.filters import MarginFilter
from embedtune.models import load_model
from tests.slices import scifact_like_slice


@pytest.fixture(scope="module")
def scifact(tmp_path_factory: pytest.TempPathFactory) -> RetrievalSet:
    folder = scifact_like_slice(tmp_path_factory, "mine", train_qrels=40, test_qrels=5, distractors=120)
    return load_beir(folder, "train")


@pytest.fixture(scope="module")
def model():
    return load_model(None, max_seq_length=96)


def positives_of(data: RetrievalSet, query_text: str) -> set[str]:
    """Positive texts of every query id asking ``query_text`` (a data set may repeat a question)."""
    return {data.corpus[d] for q, t in data.queries.items() if t == query_text for d in data.positives(q)}


@pytest.mark.parametrize("method", ["bm25", "dense", "hybrid"])
def test_rows_have_k_negatives_none_labelled_positive_and_train_as_a_pair_file(
        scifact: RetrievalSet, model, tmp_path: Path, method: str) -> None:
    result = mine_hard_negatives(scifact, MineConfig(method=method, num_negatives=3), model=model)
    assert result.rows and result.pairs == sum(len(scifact.positives(q)) for q in scifact.queries)
    assert len(result.rows) + sum(result.dropped_rows.values()) == result.pairs, "every pair is kept or accounted for"
    for row in result.rows:
        assert len(row.negatives) == 3 == len(set(row.negatives))
        assert not set(row.negatives) & positives_of(scifact, row.query)
    out = tmp_path / "mined.jsonl"
    result.save(out)
    pairs = load_pairs(out)
    assert len(pairs) == len(result.rows) and pairs.num_negatives == 3


def test_margin_filter_keeps_an_unlabelled_near_copy_of_the_positive_out(scifact: RetrievalSet, model) -> None:
    qid = next(q for q in scifact.queries if scifact.positives(q))
    positive = scifact.positives(qid)[0]
    # Not the positive's exact text (that counts as the positive itself, never mined): a revised version.
    near_copy = scifact.corpus[positive] + " (Revised version.)"
    corpus = {**scifact.corpus, "unlabelled-copy": near_copy}
    data = RetrievalSet(corpus=corpus, queries={qid: scifact.queries[qid]}, qrels={qid: scifact.qrels[qid]},
                        source="planted", split="train")
    unfiltered = mine_hard_negatives(data, MineConfig(method="dense", num_negatives=3, relative_margin=None),
                                     model=model)
    assert near_copy in unfiltered.rows[0].negatives, "without the filter the copy is mined"
    filtered = mine_hard_negatives(data, MineConfig(method="dense", num_negatives=3), model=model)
    assert near_copy not in filtered.rows[0].negatives
    assert filtered.dropped_candidates["scored too close to the positive (margin)"] >= 1


def test_rank_window_skips_the_top_candidates(scifact: RetrievalSet, model) -> None:
    from embedtune.inference.search import encode_documents, encode_queries, exact_top_k

    config = MineConfig(method="dense", num_negatives=2, range_min=4, range_max=20, relative_margin=None)
    result = mine_hard_negatives(scifact, config, model=model)
    doc_ids = list(scifact.corpus)
    row = result.rows[0]
    docs = encode_documents(model, [scifact.corpus[d] for d in doc_ids])
    _, ranking = exact_top_k(encode_queries(model, [row.query]), docs, 20)
    labelled = positives_of(scifact, row.query)
    window = [scifact.corpus[doc_ids[i]] for i in ranking[0][4:20] if scifact.corpus[doc_ids[i]] not in labelled]
    assert row.negatives == window[:2]


def test_random_sampling_is_seeded(scifact: RetrievalSet) -> None:
    def mined(seed: int) -> list[list[str]]:
        config = MineConfig(method="bm25", num_negatives=2, sampling="random", seed=seed, relative_margin=None)
        return [r.negatives for r in mine_hard_negatives(scifact, config).rows]
    assert mined(1) == mined(1)
    assert mined(1) != mined(2)


def test_margins() -> None:
    assert MarginFilter(0.05, None).ceiling(0.8) == pytest.approx(0.76)
    assert MarginFilter(None, 0.1).ceiling(0.8) == pytest.approx(0.7)
    assert MarginFilter(0.05, 0.1).ceiling(0.8) == pytest.approx(0.7), "both: the stricter wins"
    assert MarginFilter(0.05, None).ceiling(-0.2) == pytest.approx(-0.21), "still below a negative positive score"
    assert np.isinf(MarginFilter(None, None).ceiling(0.8))


def test_queries_without_positives_are_an_error() -> None:
    data = RetrievalSet(corpus={f"d{i}": f"text {i}" for i in range(20)}, queries={"q": "text"},
                        qrels={"q": {"d1": 0}}, source="graded.tsv", split="train")
    with pytest.raises(MiningError, match="graded.tsv split train: no query has a positive label"):
        mine_hard_negatives(data, MineConfig(method="bm25"))


def test_a_corpus_smaller_than_the_window_is_an_error() -> None:
    data = RetrievalSet(corpus={f"d{i}": f"text {i}" for i in range(4)}, queries={"q": "text"},
                        qrels={"q": {"d1": 1}}, source="tiny", split="train")
    with pytest.raises(MiningError, match="the corpus has 4 documents, too few to skip the top 0 and take 5"):
        mine_hard_negatives(data, MineConfig(method="bm25"))


def test_nothing_left_after_filtering_is_an_error_not_an_empty_file(scifact: RetrievalSet) -> None:
    with pytest.raises(MiningError, match="no \\(query, positive\\) pair kept 5 negatives after filtering"):
        mine_hard_negatives(scifact, MineConfig(method="bm25", absolute_margin=1000.0))


def test_window_narrower_than_the_count_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="the rank window 10..12 holds 2 candidates, fewer than num_negatives=5"):
        MineConfig(range_min=10, range_max=12)


def test_cross_encoder_veto_applies_its_threshold(scifact: RetrievalSet) -> None:
    # No cross-encoder weights install offline: MiniLM with a fresh (random) head exercises the
    # code path; the thresholds below make every verdict "relevant" or none, whatever the head says.
    three = [q for q in scifact.queries if scifact.positives(q)][:3]
    small = scifact.restrict_queries(three, "train")
    base = {"method": "bm25", "num_negatives": 2, "range_max": 6, "relative_margin": None,
            "cross_encoder": "all-MiniLM-L6-v2", "max_seq_length": 64}
    with pytest.raises(MiningError, match="judged relevant by the cross-encoder"):
        mine_hard_negatives(small, MineConfig(**base, cross_encoder_threshold=-1e9))
    kept = mine_hard_negatives(small, MineConfig(**base, cross_encoder_threshold=1e9))
    assert kept.rows and not kept.dropped_candidates["judged relevant by the cross-encoder"]


def write_beir(folder: Path, corpus: dict[str, str], queries: dict[str, str], qrels: list[tuple[str, str]]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d, "title": "", "text": t}) + "\n" for d, t in corpus.items()), encoding="utf-8")
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()), encoding="utf-8")
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in qrels), encoding="utf-8")
    return folder


def test_positives_of_a_repeated_query_text_or_a_repeated_document_text_are_never_negatives(tmp_path: Path) -> None:
    # SciFact train asks one question under two ids, each with its own positive; the fillers share
    # fewer words with the question, so the positives and the copy outrank them in BM25.
    question = "Adult tissue-resident macrophages stem from the embryonal yolk sac and fetal liver."
    corpus = {"pos-a": "Tissue-resident macrophages of the adult stem from the embryonal yolk sac.",
              "pos-b": "Fetal liver monocytes give rise to adult tissue-resident macrophages.",
              "copy-of-a": "Tissue-resident macrophages of the adult stem from the embryonal yolk sac.",
              **{f"filler-{i}": f"Macrophages in study {i} were counted in blood samples." for i in range(6)}}
    folder = write_beir(tmp_path / "beir", corpus, {"q1": question, "q2": f"  {question} "},
                        [("q1", "pos-a"), ("q2", "pos-b")])
    data = load_beir(folder, "train")
    result = mine_hard_negatives(data, MineConfig(method="bm25", num_negatives=2, relative_margin=None))
    assert len(result.rows) == 2, result.to_table()
    positives = {corpus["pos-a"], corpus["pos-b"]}  # copy-of-a has pos-a's text
    for row in result.rows:
        assert not set(row.negatives) & positives, row
