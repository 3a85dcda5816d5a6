"""Pair and triplet files: JSONL or CSV/TSV with query/positive[/negative] columns, or image/text pairs."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from embedtune.data.images import IMAGE_FIELDS, PREFIX, image_path, image_ref, row_image
from embedtune.data.reading import read_jsonl, read_lines, require_text
from embedtune.data.types import TrainingPairs
from embedtune.errors import DataError

QUERY_FIELDS = ("query", "anchor", "question")
POSITIVE_FIELDS = ("positive", "pos", "document", "passage")
CAPTION_FIELDS = ("text", "caption")  # the text of an image row, when it has no query field


def load_pairs(path: str | Path) -> TrainingPairs:
    """Read (query, positive[, negatives]) rows from ``.jsonl`` or ``.csv``/``.tsv``.

    Negatives come from a ``negatives`` list, a ``negative`` field, or ``negative_1..k``
    columns (what ``embedtune mine`` writes). Every row must carry the same number of
    negatives, because a loss batch needs a rectangular layout.

    A row with an ``image`` (a path relative to the file, or a URL) and a ``text`` (its caption or
    query) is an image pair: the text is the query and the image its positive (see
    ``embedtune.data.images``; every image is opened and checked here).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataError(path, "not found (give a BEIR folder or a .jsonl, .csv or .tsv file)")
    if suffix in {".jsonl", ".json"}:
        rows = read_jsonl(path)
    elif suffix in {".csv", ".tsv"}:
        rows = _read_table(path, "\t" if suffix == ".tsv" else ",")
    else:
        raise DataError(path, f'unsupported file type "{suffix}" (use .jsonl, .csv or .tsv, or a BEIR folder)')
    queries: list[str] = []
    positives: list[str] = []
    negatives: list[list[str]] = []
    first_row: tuple[int, int] | None = None  # (negatives per row, line) of the first row
    for number, row in rows:
        if any(f in row for f in IMAGE_FIELDS) and not any(f in row for f in POSITIVE_FIELDS):
            queries.append(_cell(path, number, row, QUERY_FIELDS + CAPTION_FIELDS))
            positives.append(row_image(path, number, row))
        else:
            queries.append(_cell(path, number, row, QUERY_FIELDS))
            positives.append(_cell(path, number, row, POSITIVE_FIELDS))
        row_negatives = _negatives(path, number, row)
        if first_row is None:
            first_row = (len(row_negatives), number)
        elif len(row_negatives) != first_row[0]:
            raise DataError(path, f"row has {len(row_negatives)} negatives but line {first_row[1]} has "
                                  f"{first_row[0]}; give every row the same number", number)
        if row_negatives:
            negatives.append(row_negatives)
    if not queries:
        raise DataError(path, "no rows in the file")
    return TrainingPairs(queries=queries, positives=positives, negatives=negatives, source=str(path))


def _read_table(path: Path, delimiter: str) -> Iterator[tuple[int, dict[str, str]]]:
    # One reader over the whole file, because a quoted cell may span lines (passages often do).
    lines = (text for _, text in read_lines(path, skip_blank=False))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    start = 1  # the line the next row begins on
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(path, f"malformed {path.suffix[1:].upper()} row ({exc})", start) from None
        number, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [h.strip() for h in cells]
        elif len(cells) != len(header):
            raise DataError(path, f"expected {len(header)} columns like the header, got {len(cells)}", number)
        else:
            yield number, dict(zip(header, cells))


def _negatives(path: Path, number: int, row: dict[str, Any]) -> list[str]:
    if "negatives" in row:
        value = row["negatives"]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise DataError(path, 'field "negatives" must be a list of non-empty strings', number)
        return [_cell(path, number, {"negatives": v}, ("negatives",)) for v in value]
    numbered = sorted((k for k in row if k.startswith("negative_")), key=lambda k: (len(k), k))
    names = (["negative"] if "negative" in row else []) + numbered
    return [_cell(path, number, row, (name,)) for name in names]


def _cell(path: Path, number: int, row: dict[str, Any], names: tuple[str, ...]) -> str:
    """A text field, or an image reference (as ``embedtune mine`` writes for image data), checked again."""
    value = require_text(path, number, row, names)
    return image_ref(path, number, str(image_path(value))) if value.startswith(PREFIX) else value
