"""split_by_query on the SciFact-like train split: no query (or identical query text) on both sides, seeded."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from embedtune.data import RetrievalSet, load_beir, split_by_query
from embedtune.errors import ConfigError


@pytest.fixture(scope="module")
def scifact_train(scifact_like: Path) -> RetrievalSet:
    return load_beir(scifact_like, "train")


@pytest.fixture(scope="module")
def judged_train_queries(scifact_like: Path) -> int:
    """Distinct query ids in qrels/train.tsv, counted without the loader."""
    with open(scifact_like / "qrels" / "train.tsv", encoding="utf-8") as f:
        return len({row[0] for row in list(csv.reader(f, delimiter="\t"))[1:]})


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def test_no_query_on_both_sides(scifact_train: RetrievalSet) -> None:
    train, dev = split_by_query(scifact_train, dev_fraction=0.1, seed=42)
    assert not set(train.queries) & set(dev.queries)
    assert set(train.queries) | set(dev.queries) == set(scifact_train.queries)
    assert set(dev.qrels) == set(dev.queries) and set(train.qrels) == set(train.queries)
    assert {normalised(t) for t in train.queries.values()}.isdisjoint(normalised(t) for t in dev.queries.values())
    assert (train.split, dev.split) == ("train-train", "train-dev")


def test_identical_query_texts_stay_together(scifact_train: RetrievalSet) -> None:
    # A data set may repeat a claim (SciFact train does); doubling every query with a case/space variant makes a
    # split that ignores text identity leak on almost every seed.
    queries = dict(scifact_train.queries)
    qrels = dict(scifact_train.qrels)
    for qid, text in scifact_train.queries.items():
        variant = "  " + text.upper().replace(" ", "   ")
        if normalised(variant) == normalised(text):  # not for "ß", which upper-cases to "SS"
            queries[f"{qid}-copy"] = variant
            qrels[f"{qid}-copy"] = scifact_train.qrels[qid]
    assert len(queries) > 1.9 * len(scifact_train.queries)
    doubled = RetrievalSet(corpus=scifact_train.corpus, queries=queries, qrels=qrels, split="train")
    for seed in (0, 1, 2):
        train, dev = split_by_query(doubled, dev_fraction=0.1, seed=seed)
        assert {normalised(t) for t in train.queries.values()}.isdisjoint(normalised(t) for t in dev.queries.values())
        assert all(f"{q}-copy" in dev.queries for q in dev.queries if f"{q}-copy" in queries)


def test_dev_is_about_the_fraction_asked(scifact_train: RetrievalSet, judged_train_queries: int) -> None:
    n = len(scifact_train.queries)
    assert n == judged_train_queries > 200
    _, dev = split_by_query(scifact_train, dev_fraction=0.1, seed=42)
    assert round(0.1 * n) <= len(dev.queries) <= round(0.1 * n) + 1  # a duplicated claim may tip it over by one
    _, capped = split_by_query(scifact_train, dev_fraction=0.5, seed=42, max_dev_queries=20)
    assert 20 <= len(capped.queries) <= 21


def test_same_seed_same_split_other_seed_other_split(scifact_train: RetrievalSet) -> None:
    _, first = split_by_query(scifact_train, dev_fraction=0.1, seed=42)
    _, again = split_by_query(scifact_train, dev_fraction=0.1, seed=42)
    _, other = split_by_query(scifact_train, dev_fraction=0.1, seed=43)
    assert list(first.queries) == list(again.queries)
    assert set(first.queries) != set(other.queries)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_dev_fraction_out_of_range(scifact_train: RetrievalSet, fraction: float) -> None:
    with pytest.raises(ConfigError) as exc:
        split_by_query(scifact_train, dev_fraction=fraction)
    assert str(exc.value) == f"dev_fraction must be between 0 and 1 (exclusive), got {fraction}"


def test_one_distinct_query_cannot_be_split() -> None:
    data = RetrievalSet(corpus={"d1": "doc"}, queries={"q1": "same text", "q2": "Same  TEXT"},
                        qrels={"q1": {"d1": 1}, "q2": {"d1": 1}})
    with pytest.raises(ConfigError) as exc:
        split_by_query(data)
    assert str(exc.value) == ("cannot split 2 distinct queries into train and dev; "
                              "add queries or give a dev split explicitly")
