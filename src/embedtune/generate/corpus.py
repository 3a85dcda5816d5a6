"""Unlabelled corpora as passages: BEIR corpus.jsonl, JSONL, CSV, or a folder of .txt/.md files.

Titles are kept apart from the text (unlike ``embedtune.data.beir.read_corpus``, which joins
them) because a title is itself a pseudo-query for its passage.
"""
from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from embedtune.data.reading import fields_seen, read_jsonl, require_text
from embedtune.errors import DataError

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
ID_FIELDS = ("_id", "id", "doc_id")
TEXT_FIELDS = ("text", "passage", "content", "body")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Passage:
    """One retrievable unit. ``group`` names what it was cut from (a file), so a split by document
    keeps overlapping chunks of one file on the same side."""

    doc_id: str
    text: str
    title: str = ""
    group: str = ""

    @property
    def full_text(self) -> str:
        """What gets embedded and searched: title + " " + text, the BEIR convention."""
        return f"{self.title} {self.text}".strip()


def read_passages(path: str | Path, *, chunk_size: int = 200, chunk_overlap: int = 40) -> list[Passage]:
    """Passages from a BEIR folder or corpus.jsonl, a .jsonl or .csv/.tsv file, or a folder of text files.

    Text files are split into passages of ``chunk_size`` words overlapping by ``chunk_overlap``;
    in Markdown each heading starts a new section and titles the passages under it.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "not found (give a BEIR folder, a corpus .jsonl/.csv file, or a folder of .txt/.md files)")
    if path.is_dir():
        if (path / "corpus.jsonl").is_file():
            passages = _read_jsonl(path / "corpus.jsonl")
        else:
            passages = _read_text_folder(path, chunk_size, chunk_overlap)
    elif path.suffix.lower() in {".jsonl", ".json"}:
        passages = _read_jsonl(path)
    elif path.suffix.lower() in {".csv", ".tsv"}:
        passages = _read_table(path, "\t" if path.suffix.lower() == ".tsv" else ",")
    elif path.suffix.lower() in TEXT_SUFFIXES:
        passages = _chunk_file(path, path.name, chunk_size, chunk_overlap)
    else:
        raise DataError(path, f'unsupported file type "{path.suffix}" (use .jsonl, .csv, .tsv, .txt, .md or a folder)')
    if not passages:
        raise DataError(path, "no passages with text found")
    logger.info("%s: %d passages", path, len(passages))
    return passages


def _read_jsonl(path: Path) -> list[Passage]:
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for number, obj in read_jsonl(path):
        doc_id = require_text(path, number, obj, ID_FIELDS)
        text = _optional_text(path, number, obj, TEXT_FIELDS)
        title = _optional_text(path, number, obj, ("title",))
        if text is None and title is None:
            raise DataError(path, f'missing field "text" (fields seen: {fields_seen(obj)})', number)
        passages.append(_passage(path, number, doc_id, text or "", title or "", seen))
    return passages


def _read_table(path: Path, delimiter: str) -> list[Passage]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        header = reader.fieldnames or []
        text_column = next((c for c in TEXT_FIELDS if c in header), None)
        if text_column is None:
            raise DataError(path, f'no text column (need one of: {", ".join(TEXT_FIELDS)}; header: {", ".join(header)})', 1)
        id_column = next((c for c in ID_FIELDS if c in header), None)
        seen: dict[str, int] = {}
        passages = []
        for row in reader:
            number = reader.line_num
            doc_id = (row.get(id_column) or "").strip() if id_column else str(len(passages))
            if not doc_id:
                raise DataError(path, f'empty "{id_column}"', number)
            passages.append(_passage(path, number, doc_id, row.get(text_column) or "", row.get("title") or "", seen))
    return passages


def _optional_text(path: Path, number: int, obj: dict, names: tuple[str, ...]) -> str | None:
    for name in names:
        if name in obj and obj[name] is not None:
            if not isinstance(obj[name], str):
                raise DataError(path, f'field "{name}" must be a string, got {type(obj[name]).__name__}', number)
            return obj[name]
    return None


def _passage(path: Path, number: int, doc_id: str, text: str, title: str, seen: dict[str, int]) -> Passage:
    if doc_id in seen:
        raise DataError(path, f'duplicate id "{doc_id}" (first seen on line {seen[doc_id]})', number)
    seen[doc_id] = number
    text, title = " ".join(text.split()), " ".join(title.split())
    if not text and not title:
        raise DataError(path, f'document "{doc_id}" has an empty title and text', number)
    return Passage(doc_id=doc_id, text=text, title=title, group=doc_id)


def _read_text_folder(folder: Path, chunk_size: int, chunk_overlap: int) -> list[Passage]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
    if not files:
        raise DataError(folder, "no corpus.jsonl and no .txt or .md files in the folder")
    passages: list[Passage] = []
    for file in files:
        passages.extend(_chunk_file(file, file.relative_to(folder).as_posix(), chunk_size, chunk_overlap))
    return passages


def _chunk_file(path: Path, name: str, chunk_size: int, chunk_overlap: int) -> list[Passage]:
    try:
        content = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(path, "not valid UTF-8; re-save the file as UTF-8") from None
    markdown = path.suffix.lower() in (".md", ".markdown")
    passages = []
    for heading, words in _sections(content, markdown):
        for chunk in chunk_words(words, chunk_size, chunk_overlap):
            passages.append(Passage(doc_id=f"{name}#{len(passages)}", text=" ".join(chunk), title=heading, group=name))
    return passages


def _sections(content: str, markdown: bool) -> list[tuple[str, list[str]]]:
    """(heading, words) per section; a plain text file is one untitled section."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in content.splitlines():
        match = _HEADING.match(line) if markdown else None
        if match:
            sections.append((" ".join(match.group(1).split()), []))
        else:
            sections[-1][1].extend(line.split())
    return [(h, w) for h, w in sections if w]


def chunk_words(words: list[str], size: int, overlap: int) -> list[list[str]]:
    """Windows of ``size`` words, each starting ``size - overlap`` after the last; the tail is never
    a sliver: a last window shorter than the overlap is already inside the one before."""
    step = size - overlap
    chunks = [words[start:start + size] for start in range(0, max(len(words) - overlap, 1), step)]
    return [c for c in chunks if c]
