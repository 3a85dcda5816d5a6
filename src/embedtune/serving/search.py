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

from embedtune.errors import ModelNotFoundError

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


def load_cross_encoder(name: str) -> CrossEncoder:
    """A sentence-transformers CrossEncoder from a folder or hub id, failures as one line."""
    from sentence_transformers import CrossEncoder

    from embedtune.models import resolve_model

    try:
        return CrossEncoder(resolve_model(name))
    except OSError as exc:
        raise ModelNotFoundError(f'cannot load cross-encoder "{name}": {str(exc).splitlines()[0]}') from exc


def rerank_scores(cross_encoder: CrossEncoder, query: str, texts: list[str], batch_size: int = 32) -> np.ndarray:
    """The cross-encoder's relevance score of each text for ``query`` (higher is better)."""
    if not texts:
        return np.empty(0, dtype=np.float32)
    scores = cross_encoder.predict([(query, t) for t in texts], batch_size=batch_size, show_progress_bar=False,
                                   convert_to_numpy=True)
    return np.asarray(scores, dtype=np.float32).reshape(len(texts))


def rerank_order(scores: np.ndarray) -> np.ndarray:
    """Candidates best first; ties keep the dense order (a stable sort), so equal scores never shuffle."""
    return np.argsort(-scores, kind="stable")


def rerank_run(cross_encoder: CrossEncoder, queries: dict[str, str], run: dict[str, dict[str, float]],
               corpus: dict[str, str], top: int) -> dict[str, dict[str, float]]:
    """A run whose first ``top`` documents per query are reordered by the cross-encoder, the rest kept after.

    The scores written are rank-based (n, n-1, ...): a cross-encoder's and a cosine's scales do not mix.
    """
    from embedtune.evaluation.metrics import rank

    reranked: dict[str, dict[str, float]] = {}
    for qid, scores in run.items():
        ranking = rank(scores)
        head = ranking[:top]
        order = [head[i] for i in rerank_order(rerank_scores(cross_encoder, queries[qid], [corpus[d] for d in head]))]
        final = order + ranking[top:]
        reranked[qid] = {doc: float(len(final) - i) for i, doc in enumerate(final)}
    return reranked


class Searcher:
    """Query → hits over one index with one embedding model (loaded once), optionally reranked."""

    def __init__(self, index: SearchIndex, model: SentenceTransformer, *, reranker: CrossEncoder | None = None,
                 rerank_top: int = DEFAULT_RERANK_TOP, encoder: FastEncoder | None = None) -> None:
        from embedtune.evaluation.search import make_encoder

        self.index, self.model, self.reranker, self.rerank_top = index, model, reranker, rerank_top
        self.encoder = encoder or make_encoder(model, "torch")

    def search(self, queries: list[str], top_k: int = 10, *, rerank: bool | None = None) -> list[list[Hit]]:
        """The ``top_k`` hits of each query; ``rerank`` (default: whenever a reranker is loaded) adds stage two."""
        from embedtune.evaluation.search import encode_queries

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
            hits = [Hit(id=self.index.doc_ids[r], score=float(s), text=self.index.texts[r], dense_score=float(s))
                    for s, r in zip(query_scores, query_rows) if r >= 0]
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
    loaded = load_model(model or index.info.model, max_seq_length=index.info.max_seq_length or None)
    if model is not None:
        index.check_model(loaded, model)
    return Searcher(index, loaded, reranker=load_cross_encoder(rerank) if rerank else None, rerank_top=rerank_top)


def search_index(index_dir: str | Path, query: str, *, top_k: int = 10, rerank: str | None = None,
                 rerank_top: int = DEFAULT_RERANK_TOP) -> list[Hit]:
    """One query against a saved index (what ``embedtune search`` runs)."""
    return open_searcher(index_dir, rerank=rerank, rerank_top=rerank_top).search([query], top_k)[0]
