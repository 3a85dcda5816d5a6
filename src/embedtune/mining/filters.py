"""False-negative filters: reasons to refuse a candidate that may be an unlabelled positive.

Mining the top of a ranking finds, besides hard negatives, relevant documents nobody labelled;
training against them teaches the model to push real answers away. The margin rules follow
NV-Retriever's positive-aware mining (Moreira et al. 2024): a candidate that scores almost as
high as the labelled positive, or higher, is more likely relevant than hard.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedtune.config import MineConfig
    from embedtune.data.types import RetrievalSet


def labelled_positives(data: RetrievalSet, doc_ids: list[str]) -> dict[str, set[int]]:
    """For each query text (whitespace stripped), the positions in ``doc_ids`` never to mine as its negatives.

    Datasets repeat a query under several ids (SciFact train does) and a document under several
    ids; a label on any copy labels them all, or one id's positive becomes the other's negative.
    """
    positive_ids: dict[str, set[str]] = {}
    for qid, text in data.queries.items():
        positive_ids.setdefault(text.strip(), set()).update(data.positives(qid))
    positive_texts = {data.corpus[d].strip() for ids in positive_ids.values() for d in ids}
    copies: dict[str, set[int]] = {}  # positive text -> every position holding it
    for i, d in enumerate(doc_ids):
        text = data.corpus[d].strip()
        if text in positive_texts:
            copies.setdefault(text, set()).add(i)
    return {query: set().union(*(copies[data.corpus[d].strip()] for d in ids))
            for query, ids in positive_ids.items()}


@dataclass(frozen=True)
class MarginFilter:
    """Keep a candidate only if it scores clearly below the positive it is paired with."""

    relative_margin: float | None
    absolute_margin: float | None

    @classmethod
    def from_config(cls, config: MineConfig) -> MarginFilter:
        return cls(config.relative_margin, config.absolute_margin)

    @property
    def active(self) -> bool:
        return self.relative_margin is not None or self.absolute_margin is not None

    def ceiling(self, positive_score: float) -> float:
        """The highest score a candidate may have and still count as a negative."""
        limit = float("inf")
        if self.relative_margin is not None:
            # For a negative positive score, "(1 - m) ×" would loosen the rule; subtract instead.
            limit = min(limit, positive_score - abs(positive_score) * self.relative_margin)
        if self.absolute_margin is not None:
            limit = min(limit, positive_score - self.absolute_margin)
        return limit


class CrossEncoderFilter:
    """Veto candidates that a cross-encoder scores at or above ``threshold`` for the query."""

    def __init__(self, name: str, threshold: float, batch_size: int = 32, max_length: int | None = None) -> None:
        from sentence_transformers import CrossEncoder

        from embedtune.models import resolve_model

        self.model = CrossEncoder(resolve_model(name), device=None, max_length=max_length)
        self.threshold = threshold
        self.batch_size = batch_size

    def relevant(self, query: str, documents: list[str]) -> list[bool]:
        if not documents:
            return []
        scores = self.model.predict([(query, d) for d in documents], batch_size=self.batch_size,
                                    show_progress_bar=False)
        return [float(s) >= self.threshold for s in scores]
