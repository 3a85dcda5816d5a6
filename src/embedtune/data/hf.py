"""Hugging Face ``datasets`` objects as training pairs."""
from __future__ import annotations

from typing import Any

from embedtune.data.pairs import POSITIVE_FIELDS, QUERY_FIELDS
from embedtune.data.types import TrainingPairs
from embedtune.errors import DataError


def pairs_from_hf_dataset(dataset: Any, name: str = "datasets.Dataset") -> TrainingPairs:
    """Read query/positive[/negative...] columns from a ``datasets.Dataset`` (or any column mapping)."""
    columns = list(dataset.column_names)

    def pick(candidates: tuple[str, ...], role: str) -> str:
        for c in candidates:
            if c in columns:
                return c
        wanted = " or ".join(f'"{c}"' for c in candidates)
        seen = ", ".join(f'"{c}"' for c in columns)
        raise DataError(name, f"no {role} column: expected {wanted} (columns seen: {seen}); "
                              "rename one with dataset.rename_column(old, new)")

    query_col = pick(QUERY_FIELDS, "query")
    positive_col = pick(POSITIVE_FIELDS, "positive")
    negative_cols = [c for c in columns if c == "negative" or c.startswith("negative_")]

    def text(value: Any) -> str:
        return "" if value is None else str(value)  # str(None) would train on the word "None"

    queries = [text(v) for v in dataset[query_col]]
    positives = [text(v) for v in dataset[positive_col]]
    for i, (q, p) in enumerate(zip(queries, positives)):
        if not q.strip() or not p.strip():
            raise DataError(name, f"row {i}: empty {'query' if not q.strip() else 'positive'} text")
    if "negatives" in columns:  # a list per row, as in pair files
        negatives = [[text(v) for v in row or []] for row in dataset["negatives"]]
    else:
        negatives = [list(map(text, row)) for row in zip(*(dataset[c] for c in negative_cols))]
    for i, row in enumerate(negatives):
        if len(row) != len(negatives[0]):
            raise DataError(name, f"row {i} has {len(row)} negatives but row 0 has {len(negatives[0])}; "
                                  "give every row the same number")
        if not all(n.strip() for n in row):
            raise DataError(name, f"row {i}: empty negative text")
    if negatives and not negatives[0]:
        negatives = []
    return TrainingPairs(queries=queries, positives=positives, negatives=negatives, source=name)
