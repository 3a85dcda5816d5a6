"""Small slices of the session's fixture retrieval sets (see tests/fixture_data.py), written as BEIR folders.

The slicing helpers work on any BEIR folder (the benchmarks in bench/ use them on ../shared/data);
the tests slice only the sets built inside the test session, so they never read ../shared/data.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tests.fixture_data import DBPEDIA, SCIFACT, build_fixture_data


def fixture_data(tmp_path_factory: Any) -> Path:
    """The folder holding the fixture sets ``scifact-like`` and ``dbpedia-like``, built once per session."""
    root = tmp_path_factory.getbasetemp() / "fixture-data"
    done = root / ".complete"
    if not done.is_file():
        build_fixture_data(root)
        done.write_text("", encoding="utf-8")
    return root


def scifact_like(tmp_path_factory: Any) -> Path:
    """The SciFact-shaped fixture set: prose documents with titles, one positive per query, train and test."""
    return fixture_data(tmp_path_factory) / SCIFACT


def dbpedia_like(tmp_path_factory: Any) -> Path:
    """The DBpedia-shaped fixture set: code documents, a test split of graded (0/1/2) judgments, ~12 per query."""
    return fixture_data(tmp_path_factory) / DBPEDIA


def scifact_like_slice(tmp_path_factory: Any, name: str, *, train_qrels: int, test_qrels: int,
                       distractors: int) -> Path:
    """A slice of the SciFact-like fixture set (see ``write_beir_slice``) in a fresh temporary folder."""
    return write_beir_slice(scifact_like(tmp_path_factory), tmp_path_factory.mktemp(name), train_qrels=train_qrels,
                            test_qrels=test_qrels, distractors=distractors)


def write_beir_slice(src: Path, dst: Path, *, train_qrels: int, test_qrels: int, distractors: int) -> Path:
    """Copy the first N judgments of each split, their queries and documents, plus distractor documents."""
    (dst / "qrels").mkdir(parents=True, exist_ok=True)
    splits = {"train": train_qrels, "test": test_qrels}
    rows: dict[str, list[list[str]]] = {}
    for split, count in splits.items():
        with open(src / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
            rows[split] = list(csv.reader(f, delimiter="\t"))[1:count + 1]
    return _write_slice(src, dst, rows, distractors)


def _write_slice(src: Path, dst: Path, rows: dict[str, list[list[str]]], distractors: int) -> Path:
    """Write the judged documents plus ``distractors`` others, the asked queries and each split's qrels rows."""
    judged = {r[1] for rs in rows.values() for r in rs}
    asked = {r[0] for rs in rows.values() for r in rs}
    with open(src / "corpus.jsonl", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    keep = [d for d in corpus if d["_id"] in judged] + [d for d in corpus if d["_id"] not in judged][:distractors]
    (dst / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in keep), encoding="utf-8")
    with open(src / "queries.jsonl", encoding="utf-8") as f:
        queries = [line for line in f if json.loads(line)["_id"] in asked]
    (dst / "queries.jsonl").write_text("".join(queries), encoding="utf-8")
    for split, rs in rows.items():
        text = "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rs)
        (dst / "qrels" / f"{split}.tsv").write_text(text, encoding="utf-8")
    return dst


def write_query_slice(src: Path, dst: Path, *, split: str, queries: int, judgments_per_query: int,
                      distractors: int) -> Path:
    """One split of the first N queries, each with its best-graded judgments (positives first), plus distractors.

    For sets like dbpedia-5k, whose ~90 judgments per query would make a slice of the first rows
    hold only one or two queries.
    """
    (dst / "qrels").mkdir(parents=True, exist_ok=True)
    with open(src / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        all_rows = list(csv.reader(f, delimiter="\t"))[1:]
    by_query: dict[str, list[list[str]]] = {}
    for row in all_rows:
        if row[0] in by_query or len(by_query) < queries:
            by_query.setdefault(row[0], []).append(row)
    rows = [r for rs in by_query.values() for r in sorted(rs, key=lambda r: -int(r[2]))[:judgments_per_query]]
    return _write_slice(src, dst, {split: rows}, distractors)


def write_corpus_only(src: Path, dst: Path, *, documents: int) -> Path:
    """The first N documents of a BEIR corpus and nothing else (no queries, no labels): unsupervised input."""
    dst.mkdir(parents=True, exist_ok=True)
    with open(src / "corpus.jsonl", encoding="utf-8") as f:
        (dst / "corpus.jsonl").write_text("".join(line for _, line in zip(range(documents), f)), encoding="utf-8")
    return dst
