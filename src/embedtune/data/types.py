"""The two shapes of data embedtune works with."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetrievalSet:
    """A corpus, the queries of one split and their graded relevance labels.

    ``corpus`` maps a document id to the text that gets embedded (title + " " + text, the BEIR
    convention). ``qrels`` keeps every judgment, including score 0 ("judged NOT relevant"),
    because metrics need the grades; only scores above 0 ever count as positives.
    """

    corpus: dict[str, str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    source: str = ""
    split: str = ""

    def positives(self, query_id: str) -> list[str]:
        """Ids of the documents judged relevant (score > 0) to ``query_id``, best grade first."""
        judged = self.qrels.get(query_id, {})
        return [d for d, s in sorted(judged.items(), key=lambda kv: (-kv[1], kv[0])) if s > 0]

    @property
    def has_images(self) -> bool:
        """Whether any document or query is an image reference (``embedtune.data.images``)."""
        from embedtune.data.images import has_images

        return has_images(self.corpus.values()) or has_images(self.queries.values())

    def evaluable_query_ids(self) -> list[str]:
        """Queries with at least one positive: the only ones a ranking metric is defined for."""
        return [q for q in self.queries if self.positives(q)]

    def training_pairs(self) -> TrainingPairs:
        """One (query, positive) pair per positive judgment."""
        queries: list[str] = []
        positives: list[str] = []
        for qid in self.queries:
            for did in self.positives(qid):
                queries.append(self.queries[qid])
                positives.append(self.corpus[did])
        return TrainingPairs(queries=queries, positives=positives, source=f"{self.source} ({self.split})")

    def swapped(self) -> RetrievalSet:
        """The reverse search: each judged-relevant document is a query, the queries are the corpus.

        For image data this turns text-to-image retrieval into image-to-text (an image finds its
        captions); grades are kept, judgments of 0 stay out (they mark no positive either way).
        """
        qrels: dict[str, dict[str, int]] = {}
        for query_id, judged in self.qrels.items():
            for doc_id, grade in judged.items():
                if grade > 0 and query_id in self.queries:
                    qrels.setdefault(doc_id, {})[query_id] = grade
        return RetrievalSet(corpus=dict(self.queries), queries={d: self.corpus[d] for d in qrels}, qrels=qrels,
                            source=self.source, split=f"{self.split} (reversed)" if self.split else "reversed")

    def restrict_queries(self, query_ids: list[str], split: str) -> RetrievalSet:
        """The same corpus with only ``query_ids`` and their judgments (no copy of the corpus)."""
        keep = set(query_ids)
        return RetrievalSet(
            corpus=self.corpus,
            queries={q: t for q, t in self.queries.items() if q in keep},
            qrels={q: j for q, j in self.qrels.items() if q in keep},
            source=self.source,
            split=split,
        )


@dataclass(frozen=True)
class TrainingPairs:
    """(query, positive[, negatives]) rows for contrastive training."""

    queries: list[str]
    positives: list[str]
    negatives: list[list[str]] = field(default_factory=list)
    source: str = ""

    def __len__(self) -> int:
        return len(self.queries)

    @property
    def num_negatives(self) -> int:
        """Hard negatives per row (rows are padded to the same count when read)."""
        return len(self.negatives[0]) if self.negatives else 0

    def to_columns(self) -> dict[str, list[str]]:
        """Columns in the order sentence-transformers' MNRL expects: anchor, positive, negatives."""
        columns = {"anchor": list(self.queries), "positive": list(self.positives)}
        for i in range(self.num_negatives):
            columns[f"negative_{i + 1}"] = [row[i] for row in self.negatives]
        return columns
