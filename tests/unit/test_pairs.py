"""Pair/triplet files and HF datasets: what loads, and the exact message for what does not."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedtune.data import load_pairs, pairs_from_hf_dataset
from embedtune.errors import DataError


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def rows_of(pairs) -> list[tuple]:
    negatives = pairs.negatives or [[] for _ in pairs.queries]
    return [(q, p, *n) for q, p, n in zip(pairs.queries, pairs.positives, negatives)]


@pytest.mark.parametrize("query_field", ["query", "anchor", "question"])
def test_jsonl_pairs(tmp_path: Path, query_field: str) -> None:
    path = write_jsonl(tmp_path / "pairs.jsonl", [{query_field: "what is BM25", "positive": "A ranking function."},
                                                  {query_field: "what is LoRA", "positive": "Low-rank adapters."}])
    pairs = load_pairs(path)
    assert rows_of(pairs) == [("what is BM25", "A ranking function."), ("what is LoRA", "Low-rank adapters.")]
    assert pairs.num_negatives == 0 and pairs.source == str(path)


def test_jsonl_triplets_with_negative(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"anchor": "q1", "positive": "p1", "negative": "n1"},
                                              {"anchor": "q2", "positive": "p2", "negative": "n2"}])
    pairs = load_pairs(path)
    assert rows_of(pairs) == [("q1", "p1", "n1"), ("q2", "p2", "n2")]
    assert pairs.to_columns() == {"anchor": ["q1", "q2"], "positive": ["p1", "p2"], "negative_1": ["n1", "n2"]}


def test_jsonl_triplets_with_negatives_list(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"query": "q1", "positive": "p1", "negatives": ["a", "b"]},
                                              {"query": "q2", "positive": "p2", "negatives": ["c", "d"]}])
    pairs = load_pairs(path)
    assert rows_of(pairs) == [("q1", "p1", "a", "b"), ("q2", "p2", "c", "d")]
    assert pairs.num_negatives == 2


def test_csv_with_header_and_numbered_negatives(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text('query,positive,negative_1,negative_2\n"what, exactly",p1,n1,n2\nq2,p2,n3,n4\n', encoding="utf-8")
    assert rows_of(load_pairs(path)) == [("what, exactly", "p1", "n1", "n2"), ("q2", "p2", "n3", "n4")]


def test_csv_cell_may_span_lines(tmp_path: Path) -> None:
    path = tmp_path / "pairs.csv"
    path.write_text('query,positive\nq1,"first paragraph\n\nsecond paragraph"\nq2,p2\n', encoding="utf-8")
    assert rows_of(load_pairs(path)) == [("q1", "first paragraph\n\nsecond paragraph"), ("q2", "p2")]


def test_tsv_with_header(tmp_path: Path) -> None:
    path = tmp_path / "pairs.tsv"
    path.write_text("question\tpassage\nq1\tp, with a comma\nq2\tp2\n", encoding="utf-8")
    assert rows_of(load_pairs(path)) == [("q1", "p, with a comma"), ("q2", "p2")]


def error_of(path: Path) -> str:
    with pytest.raises(DataError) as exc:
        load_pairs(path)
    return str(exc.value)


def test_missing_query_field_lists_fields_seen(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"query": "q1", "positive": "p1"}, {"qurey": "q2", "positive": "p2"}])
    assert error_of(path) == (f'{path} line 2: missing field "query" or "anchor" or "question" '
                              '(fields seen: "qurey", "positive")')


def test_missing_positive_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{"query": "q1", "text": "p1"}])
    assert error_of(path) == (f'{path} line 1: missing field "positive" or "pos" or "document" or "passage" '
                              '(fields seen: "query", "text")')


def test_inconsistent_negative_counts_name_both_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"query": "q1", "positive": "p1", "negatives": ["a", "b"]},
                                              {"query": "q2", "positive": "p2", "negatives": ["c", "d"]},
                                              {"query": "q3", "positive": "p3", "negatives": ["e"]}])
    assert error_of(path) == f"{path} line 3: row has 1 negatives but line 1 has 2; give every row the same number"


def test_negatives_must_be_a_list_of_strings(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"query": "q1", "positive": "p1", "negatives": "a"}])
    assert error_of(path) == f'{path} line 1: field "negatives" must be a list of non-empty strings'


def test_empty_negative(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [{"query": "q1", "positive": "p1", "negative": " "}])
    assert error_of(path) == f'{path} line 1: field "negative" is empty'


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "pairs.parquet"
    path.write_bytes(b"PAR1")
    assert error_of(path) == f'{path}: unsupported file type ".parquet" (use .jsonl, .csv or .tsv, or a BEIR folder)'


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "scifcat"
    assert error_of(path) == f"{path}: not found (give a BEIR folder or a .jsonl, .csv or .tsv file)"


@pytest.mark.parametrize("name,text", [("e.jsonl", ""), ("e.jsonl", "\n  \n"), ("e.csv", ""),
                                       ("e.csv", "query,positive\n")])
def test_empty_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert error_of(path) == f"{path}: no rows in the file"


def test_csv_row_with_wrong_column_count(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("query,positive\nq1,p1\nq2,p2,extra\n", encoding="utf-8")
    assert error_of(path) == f"{path} line 3: expected 2 columns like the header, got 3"


def test_csv_unclosed_quote_names_the_row_it_opened(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('query,positive\nq1,p1\nq2,"p2\nq3,p3\n', encoding="utf-8")
    assert error_of(path) == f"{path} line 3: malformed CSV row (unexpected end of data)"


def test_tsv_with_a_csv_header_says_what_it_saw(tmp_path: Path) -> None:
    path = tmp_path / "p.tsv"
    path.write_text("query,positive\nq1,p1\n", encoding="utf-8")
    assert error_of(path) == (f'{path} line 2: missing field "query" or "anchor" or "question" '
                              '(fields seen: "query,positive")')


def test_malformed_jsonl_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"query": "q1", "positive": "p1"}\n{"query": "q2", "positive": }\n', encoding="utf-8")
    assert error_of(path) == f"{path} line 2: malformed JSON (Expecting value at column 29)"


@pytest.fixture()
def datasets():
    return pytest.importorskip("datasets")


def test_hf_dataset_triplets(datasets) -> None:
    ds = datasets.Dataset.from_dict({"anchor": ["q1", "q2"], "positive": ["p1", "p2"], "negative": ["n1", "n2"]})
    pairs = pairs_from_hf_dataset(ds)
    assert rows_of(pairs) == [("q1", "p1", "n1"), ("q2", "p2", "n2")]
    assert pairs.source == "datasets.Dataset"


def test_hf_dataset_negatives_list_is_not_dropped(datasets) -> None:
    ds = datasets.Dataset.from_dict({"query": ["q1", "q2"], "positive": ["p1", "p2"],
                                     "negatives": [["a", "b"], ["c", "d"]]})
    assert rows_of(pairs_from_hf_dataset(ds)) == [("q1", "p1", "a", "b"), ("q2", "p2", "c", "d")]


def hf_error(datasets, columns: dict, name: str = "datasets.Dataset") -> str:
    with pytest.raises(DataError) as exc:
        pairs_from_hf_dataset(datasets.Dataset.from_dict(columns), name)
    return str(exc.value)


def test_hf_dataset_missing_column(datasets) -> None:
    assert hf_error(datasets, {"anchor": ["q1"], "answer": ["p1"]}, "my/dataset") == (
        'my/dataset: no positive column: expected "positive" or "pos" or "document" or "passage" '
        '(columns seen: "anchor", "answer"); rename one with dataset.rename_column(old, new)')


def test_hf_dataset_none_is_not_the_text_none(datasets) -> None:
    assert hf_error(datasets, {"anchor": ["q1", None], "positive": ["p1", "p2"]}) == "datasets.Dataset: row 1: empty query text"


def test_hf_dataset_ragged_negatives(datasets) -> None:
    assert hf_error(datasets, {"anchor": ["q1", "q2"], "positive": ["p1", "p2"], "negatives": [["a", "b"], ["c"]]}) == (
        "datasets.Dataset: row 1 has 1 negatives but row 0 has 2; give every row the same number")
