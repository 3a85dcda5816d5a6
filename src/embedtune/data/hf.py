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
        raise DataError(name, f"no {role} column: expected {wanted} (columns seen: {', '.join(columns)})")

    query_col = pick(QUERY_FIELDS, "query")
    positive_col = pick(POSITIVE_FIELDS, "positive")
    negative_cols = [c for c in columns if c == "negative" or c.startswith("negative_")]
    queries = [str(v) for v in dataset[query_col]]
    positives = [str(v) for v in dataset[positive_col]]
    for i, (q, p) in enumerate(zip(queries, positives)):
        if not q.strip() or not p.strip():
            raise DataError(name, f"row {i}: empty {'query' if not q.strip() else 'positive'} text")
    negatives = [list(map(str, row)) for row in zip(*(dataset[c] for c in negative_cols))] if negative_cols else []
    return TrainingPairs(queries=queries, positives=positives, negatives=negatives, source=name)
