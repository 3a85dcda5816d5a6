"""BEIR folders: corpus.jsonl, queries.jsonl and qrels/<split>.tsv."""
from __future__ import annotations

import logging
from pathlib import Path

from embedtune.data.images import row_image
from embedtune.data.reading import read_jsonl, read_lines, require_text
from embedtune.data.types import RetrievalSet
from embedtune.errors import DataError

logger = logging.getLogger(__name__)


def available_splits(folder: str | Path) -> list[str]:
    """Split names that have a qrels file in ``folder``."""
    qrels_dir = Path(folder) / "qrels"
    return sorted(p.stem for p in qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []


def load_beir(folder: str | Path, split: str = "test") -> RetrievalSet:
    """Read one split of a BEIR folder, checking every line.

    Queries without judgments in ``split`` are dropped; judgments naming unknown queries or
    documents are errors (they usually mean the wrong corpus or a mangled id).
    """
    folder = Path(folder)
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "data folder not found"
        layout = "expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv"
        raise DataError(folder, f"{problem} ({layout})")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        splits = available_splits(folder)
        choice = ", ".join(splits) if splits else "none: the folder has no qrels/*.tsv"
        raise DataError(qrels_path, f'split "{split}" not found (available splits: {choice})')
    corpus = read_corpus(folder / "corpus.jsonl")
    queries = read_queries(folder / "queries.jsonl")
    qrels = read_qrels(qrels_path, queries, corpus)
    if not qrels:
        raise DataError(qrels_path, "no judgments in the file")
    split_queries = {q: queries[q] for q in qrels}
    logger.info("%s: %d documents, %d %s queries, %d judgments", folder, len(corpus),
                len(split_queries), split, sum(len(j) for j in qrels.values()))
    return RetrievalSet(corpus=corpus, queries=split_queries, qrels=qrels, source=str(folder), split=split)


def corpus_file(data: str | Path) -> Path:
    """The corpus a data argument names: a BEIR folder's ``corpus.jsonl``, or the file itself."""
    return Path(data) / "corpus.jsonl" if Path(data).is_dir() else Path(data)


def read_corpus(path: Path) -> dict[str, str]:
    """Document id → title + " " + text; duplicate ids and empty documents are errors.

    A row with an ``image`` field is an image document: its reference (``embedtune.data.images``)
    is what gets embedded, and a ``text`` beside it is ignored (a caption belongs in queries.jsonl).
    """
    corpus: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, obj in read_jsonl(path):
        doc_id = require_text(path, number, obj, ("_id",))
        if doc_id in corpus:
            raise DataError(path, f'duplicate _id "{doc_id}" (first seen on line {first_line[doc_id]})', number)
        image = row_image(path, number, obj)
        if image is not None:
            corpus[doc_id] = image
            first_line[doc_id] = number
            continue
        title = obj.get("title") or ""
        if not isinstance(title, str):
            raise DataError(path, f'field "title" must be a string, got {type(title).__name__}', number)
        if "text" not in obj:
            fields = ", ".join(f'"{k}"' for k in obj)
            raise DataError(path, f'missing field "text" (fields seen: {fields})', number)
        text = obj["text"] if isinstance(obj["text"], str) else None
        if text is None:
            raise DataError(path, f'field "text" must be a string, got {type(obj["text"]).__name__}', number)
        full = f"{title.strip()} {text.strip()}".strip()
        if not full:
            raise DataError(path, f'document "{doc_id}" has an empty title and text', number)
        corpus[doc_id] = full
        first_line[doc_id] = number
    if not corpus:
        raise DataError(path, "the corpus is empty")
    return corpus


def read_queries(path: Path) -> dict[str, str]:
    """Query id → text (or an image reference, for a row with an ``image``: image-to-text search);
    duplicate ids and empty texts are errors."""
    queries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for number, obj in read_jsonl(path):
        query_id = require_text(path, number, obj, ("_id",))
        text = row_image(path, number, obj) or require_text(path, number, obj, ("text",))
        if query_id in queries:
            raise DataError(path, f'duplicate _id "{query_id}" (first seen on line {first_line[query_id]})', number)
        queries[query_id] = text.strip()
        first_line[query_id] = number
    return queries


def read_qrels(path: Path, queries: dict[str, str], corpus: dict[str, str]) -> dict[str, dict[str, int]]:
    """query id → {doc id → grade}; a header line `query-id corpus-id score` is optional."""
    qrels: dict[str, dict[str, int]] = {}
    for number, text in read_lines(path):
        cells = text.rstrip("\r\n").split("\t")
        if number == 1 and cells[0].strip().lower() in {"query-id", "query_id", "qid"}:
            continue
        if len(cells) == 4:  # TREC layout: qid, iteration, docid, grade
            cells = [cells[0], cells[2], cells[3]]
        if len(cells) != 3:
            raise DataError(path, f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(cells)}",
                            number)
        query_id, doc_id, score_text = (c.strip() for c in cells)
        try:
            score = int(float(score_text))
        except (ValueError, OverflowError):  # int(float("inf")) overflows
            raise DataError(path, f'score "{score_text}" is not a number', number) from None
        if query_id not in queries:
            raise DataError(path, f'unknown query id "{query_id}" (not in queries.jsonl)', number)
        if doc_id not in corpus:
            raise DataError(path, f'unknown corpus id "{doc_id}" (not in corpus.jsonl)', number)
        qrels.setdefault(query_id, {})[doc_id] = score
    return qrels
