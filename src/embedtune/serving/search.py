"""Two-stage search: dense retrieval from a saved index, then (optionally) a cross-encoder on the top N.

A cross-encoder reads query and document together, so it ranks better than comparing two
independent embeddings, but it costs one forward pass per (query, document) pair: it only
sees the ``rerank_top`` candidates the index returned.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from embedtune.data.images import has_images, shown
from embedtune.evaluation.rerank import load_cross_encoder, rerank_order, rerank_scores

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder, SentenceTransformer

    from embedtune.inference import FastEncoder
    from embedtune.serving.index import SearchIndex

logger = logging.getLogger(__name__)

DEFAULT_RERANK_TOP = 50


@dataclass
class Hit:
    """One result: ``score`` orders the list (the cross-encoder's when reranked, else the cosine)."""

    id: str
    score: float
    text: str
    dense_score: float
    rerank_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Searcher:
    """Query → hits over one index with one embedding model (loaded once), optionally reranked."""

    def __init__(self, index: SearchIndex, model: SentenceTransformer, *, reranker: CrossEncoder | None = None,
                 rerank_top: int = DEFAULT_RERANK_TOP, encoder: FastEncoder | None = None) -> None:
        from embedtune.inference.search import make_encoder

        self.index, self.model, self.reranker, self.rerank_top = index, model, reranker, rerank_top
        self.encoder = encoder or make_encoder(model, "torch")

    def search(self, queries: list[str], top_k: int = 10, *, rerank: bool | None = None) -> list[list[Hit]]:
        """The ``top_k`` hits of each query; ``rerank`` (default: whenever a reranker is loaded) adds stage two."""
        from embedtune.inference.search import encode_queries

        vectors = encode_queries(self.model, queries, encoder=self.encoder)
        return self.search_vectors(queries, vectors, top_k, rerank=rerank)

    def search_vectors(self, queries: list[str], vectors: np.ndarray, top_k: int = 10, *,
                       rerank: bool | None = None) -> list[list[Hit]]:
        """``search`` for queries already encoded (the server encodes them in shared batches)."""
        rerank = self.reranker is not None if rerank is None else rerank
        if rerank and self.reranker is None:
            from embedtune.errors import ConfigError

            raise ConfigError("reranking was asked for but no cross-encoder is loaded (--rerank MODEL)")
        depth = max(top_k, self.rerank_top) if rerank else top_k
        scores, rows = self.index.search(vectors, depth)
        results = []
        for query, query_scores, query_rows in zip(queries, scores, rows):
            hits = [Hit(id=self.index.doc_ids[r], score=float(s), text=shown(self.index.texts[r]),
                        dense_score=float(s)) for s, r in zip(query_scores, query_rows) if r >= 0]
            if rerank:
                head = hits[:self.rerank_top]
                ce = rerank_scores(self.reranker, query, [h.text for h in head])
                for hit, score in zip(head, ce):
                    hit.score = hit.rerank_score = float(score)
                hits = [head[i] for i in rerank_order(ce)] + hits[self.rerank_top:]
            results.append(hits[:top_k])
        return results


def open_searcher(index_dir: str | Path, *, rerank: str | None = None, rerank_top: int = DEFAULT_RERANK_TOP,
                  model: str | None = None) -> Searcher:
    """Open a saved index with the model that built it (or ``model``, checked against it)."""
    from embedtune.models import load_model
    from embedtune.serving.index import SearchIndex

    index = SearchIndex(index_dir)
    if rerank and has_images(index.texts):
        from embedtune.errors import ConfigError

        raise ConfigError(f"--rerank: the index {index_dir} holds images and a cross-encoder reads text only")
    loaded = load_model(model or index.info.model, max_seq_length=index.info.max_seq_length or None)
    if model is not None:
        index.check_model(loaded, model)
    return Searcher(index, loaded, reranker=load_cross_encoder(rerank) if rerank else None, rerank_top=rerank_top)


def search_index(index_dir: str | Path, query: str, *, top_k: int = 10, rerank: str | None = None,
                 rerank_top: int = DEFAULT_RERANK_TOP) -> list[Hit]:
    """One query against a saved index (what ``embedtune search`` runs)."""
    return open_searcher(index_dir, rerank=rerank, rerank_top=rerank_top).search([query], top_k)[0]
