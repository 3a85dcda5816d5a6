"""load_beir: every malformed BEIR folder is rejected with one exact line naming the file and line."""
from __future__ import annotations

from pathlib import Path

import pytest

from embedtune.data import load_beir
from embedtune.errors import DataError

CORPUS = [
    '{"_id": "d1", "title": "T cells", "text": "T cells fight infection."}',
    '{"_id": "d2", "title": "", "text": "Aspirin thins the blood."}',
    '{"_id": "d3", "title": "Stars", "text": "Stars fuse hydrogen."}',
]
QUERIES = [
    '{"_id": "q1", "text": "what do T cells do"}',
    '{"_id": "q2", "text": "effects of aspirin"}',
    '{"_id": "q3", "text": "a query judged only in test"}',
]
QRELS = ["query-id\tcorpus-id\tscore", "q1\td1\t1", "q2\td2\t2", "q2\td3\t0"]


def write_beir(folder: Path, *, corpus: list[str] = CORPUS, queries: list[str] = QUERIES,
               qrels: list[str] = QRELS, split: str = "train") -> Path:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (folder / "qrels" / f"{split}.tsv").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    return folder


def replace(lines: list[str], index: int, line: str) -> list[str]:
    return [line if i == index else old for i, old in enumerate(lines)]


# (case, what to change, the message after the folder path)
CASES = [
    ("malformed json", dict(corpus=replace(CORPUS, 1, '{"_id": "d2", "text": "x"')),
     "corpus.jsonl line 2: malformed JSON (Expecting ',' delimiter at column 26)"),
    ("malformed json mid-line", dict(queries=replace(QUERIES, 1, '{"_id": "q2" "text": "x"}')),
     "queries.jsonl line 2: malformed JSON (Expecting ',' delimiter at column 14)"),
    ("json array instead of object", dict(corpus=replace(CORPUS, 2, '["d3", "Stars", "Stars fuse hydrogen."]')),
     "corpus.jsonl line 3: expected a JSON object, got list"),
    ("missing _id", dict(corpus=replace(CORPUS, 1, '{"id": "d2", "title": "", "text": "x"}')),
     'corpus.jsonl line 2: missing field "_id" (fields seen: "id", "title", "text")'),
    ("missing text", dict(corpus=replace(CORPUS, 2, '{"_id": "d3", "title": "Stars", "body": "x"}')),
     'corpus.jsonl line 3: missing field "text" (fields seen: "_id", "title", "body")'),
    ("text not a string", dict(corpus=replace(CORPUS, 2, '{"_id": "d3", "text": ["x"]}')),
     'corpus.jsonl line 3: field "text" must be a string, got list'),
    ("duplicate _id", dict(corpus=replace(CORPUS, 2, '{"_id": "d1", "title": "", "text": "again"}')),
     'corpus.jsonl line 3: duplicate _id "d1" (first seen on line 1)'),
    ("empty document", dict(corpus=replace(CORPUS, 1, '{"_id": "d2", "title": " ", "text": "  "}')),
     'corpus.jsonl line 2: document "d2" has an empty title and text'),
    ("empty corpus", dict(corpus=[""]), "corpus.jsonl: the corpus is empty"),
    ("empty query", dict(queries=replace(QUERIES, 1, '{"_id": "q2", "text": " "}')),
     'queries.jsonl line 2: field "text" is empty'),
    ("query without text", dict(queries=replace(QUERIES, 0, '{"_id": "q1", "query": "x"}')),
     'queries.jsonl line 1: missing field "text" (fields seen: "_id", "query")'),
    ("duplicate query", dict(queries=replace(QUERIES, 2, '{"_id": "q1", "text": "again"}')),
     'queries.jsonl line 3: duplicate _id "q1" (first seen on line 1)'),
    ("unknown query", dict(qrels=replace(QRELS, 2, "q9\td2\t1")),
     'qrels/train.tsv line 3: unknown query id "q9" (not in queries.jsonl)'),
    ("unknown document", dict(qrels=replace(QRELS, 3, "q2\td42\t0")),
     'qrels/train.tsv line 4: unknown corpus id "d42" (not in corpus.jsonl)'),
    ("wrong column count", dict(qrels=replace(QRELS, 1, "q1 d1 1")),
     "qrels/train.tsv line 2: expected 3 tab-separated columns (query-id, corpus-id, score), got 1"),
    ("non-numeric score", dict(qrels=replace(QRELS, 2, "q2\td2\thigh")),
     'qrels/train.tsv line 3: score "high" is not a number'),
    ("infinite score", dict(qrels=replace(QRELS, 2, "q2\td2\tinf")),
     'qrels/train.tsv line 3: score "inf" is not a number'),
    ("header only", dict(qrels=QRELS[:1]), "qrels/train.tsv: no judgments in the file"),
]


@pytest.mark.parametrize(("change", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_folder_is_rejected_with_an_exact_message(tmp_path: Path, change: dict, message: str) -> None:
    folder = write_beir(tmp_path / "beir", **change)
    with pytest.raises(DataError) as exc:
        load_beir(folder, "train")
    assert str(exc.value) == f"{folder}/{message}"


def test_error_carries_file_and_line(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir", qrels=replace(QRELS, 2, "q9\td2\t1"))
    with pytest.raises(DataError) as exc:
        load_beir(folder, "train")
    assert (exc.value.path, exc.value.line) == (str(folder / "qrels" / "train.tsv"), 3)


def test_non_utf8_line_is_named(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir")
    lines = [line.encode("utf-8") for line in CORPUS]
    lines[2] = '{"_id": "d3", "title": "Caf\u00e9", "text": "x"}'.encode("latin-1")
    (folder / "corpus.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError) as exc:
        load_beir(folder, "train")
    assert str(exc.value) == f"{folder}/corpus.jsonl line 3: not valid UTF-8 (byte 28 of the line); re-save the file as UTF-8"


def test_missing_split_lists_the_available_ones(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir")
    write_beir(folder, qrels=["q3\td3\t1"], split="test")
    with pytest.raises(DataError) as exc:
        load_beir(folder, "dev")
    assert str(exc.value) == f'{folder}/qrels/dev.tsv: split "dev" not found (available splits: test, train)'


def test_missing_split_without_any_qrels(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir")
    (folder / "qrels" / "train.tsv").unlink()
    with pytest.raises(DataError) as exc:
        load_beir(folder, "test")
    assert str(exc.value) == (f'{folder}/qrels/test.tsv: split "test" not found '
                              "(available splits: none: the folder has no qrels/*.tsv)")


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_beir(tmp_path / "scifcat", "test")
    assert str(exc.value) == (f"{tmp_path}/scifcat: data folder not found "
                              "(expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")


def test_a_file_given_as_the_folder(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"query": "q", "positive": "p"}\n', encoding="utf-8")
    with pytest.raises(DataError) as exc:
        load_beir(pairs, "test")
    assert str(exc.value) == (f"{pairs}: is a file, not a folder "
                              "(expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")


def test_missing_corpus_file(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir")
    (folder / "corpus.jsonl").unlink()
    with pytest.raises(DataError) as exc:
        load_beir(folder, "train")
    assert str(exc.value) == f"{folder}/corpus.jsonl: file not found"


def test_good_folder_loads(tmp_path: Path) -> None:
    data = load_beir(write_beir(tmp_path / "beir"), "train")
    assert data.corpus == {"d1": "T cells T cells fight infection.", "d2": "Aspirin thins the blood.",
                           "d3": "Stars Stars fuse hydrogen."}
    assert data.queries == {"q1": "what do T cells do", "q2": "effects of aspirin"}, "q3 has no train judgment"
    assert data.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    assert data.split == "train"


def test_headerless_trec_layout_numeric_ids_and_bom(tmp_path: Path) -> None:
    folder = write_beir(tmp_path / "beir", corpus=['{"_id": 7, "text": "seven"}', '{"_id": 8, "text": "eight"}'],
                        queries=['{"_id": 1, "text": "which number"}'], qrels=["1\t0\t7\t1", "1\tQ0\t8\t0"])
    corpus = folder / "corpus.jsonl"
    corpus.write_bytes(b"\xef\xbb\xbf" + corpus.read_bytes())
    data = load_beir(folder, "train")
    assert data.qrels == {"1": {"7": 1, "8": 0}}
    assert data.corpus == {"7": "seven", "8": "eight"}


def test_grade_zero_is_never_a_positive(tmp_path: Path) -> None:
    qrels = ["q1\td1\t1", "q1\td2\t2", "q1\td3\t0", "q2\td3\t0"]
    data = load_beir(write_beir(tmp_path / "beir", qrels=qrels), "train")
    assert data.positives("q1") == ["d2", "d1"], "best grade first"
    assert data.positives("q2") == []
    assert data.evaluable_query_ids() == ["q1"]
    pairs = data.training_pairs()
    assert list(zip(pairs.queries, pairs.positives)) == [
        ("what do T cells do", "Aspirin thins the blood."), ("what do T cells do", "T cells T cells fight infection.")]


def test_dbpedia_graded_labels_never_make_a_grade_zero_training_pair(dbpedia_like: Path) -> None:
    data = load_beir(dbpedia_like, "test")
    grades = [s for judged in data.qrels.values() for s in judged.values()]
    assert grades.count(0) > 0 and grades.count(1) > 0 and grades.count(2) > 0, "the slice must be graded 0/1/2"

    for qid, judged in data.qrels.items():
        positives = data.positives(qid)
        assert set(positives) == {d for d, s in judged.items() if s > 0}
        assert [judged[d] for d in positives] == sorted((judged[d] for d in positives), reverse=True)

    pairs = data.training_pairs()
    assert len(pairs) == sum(1 for s in grades if s > 0)
    text_to_qid = {text: qid for qid, text in data.queries.items()}
    assert len(text_to_qid) == len(data.queries), "query texts must be unique for the lookup below"
    for query, positive in zip(pairs.queries, pairs.positives):
        judged = data.qrels[text_to_qid[query]]
        grades_of_text = {s for d, s in judged.items() if data.corpus[d] == positive}
        assert grades_of_text and max(grades_of_text) > 0, f"{query!r}: a grade-0 document became a positive"
