"""Ranked candidate documents per query: BM25 (bm25s), dense (the model), or both fused by rank.

Each function returns a ``Candidates``: for every query, document indices best first and the
score each got in the space the false-negative filter compares against (BM25 for ``bm25``,
cosine for ``dense`` and ``hybrid``), plus a way to score any (query, document) pair in that
space, which the filter needs for the labelled positives.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference.cache import EmbeddingCache

logger = logging.getLogger(__name__)

# Above this many documents, dense search goes through FAISS (HNSW) when it is installed.
FAISS_MIN_DOCUMENTS = 200_000
RRF_K = 60  # reciprocal-rank-fusion constant (Cormack et al. 2009)


@dataclass
class Candidates:
    """``indices[i]``: document indices for query ``i``, best first; ``scores[i]`` their filter-space scores."""

    indices: np.ndarray
    scores: np.ndarray
    pair_score: Callable[[int, int], float]


def _bm25s() -> Any:
    bm25s_logger = logging.getLogger("bm25s")
    level = bm25s_logger.level
    import bm25s

    bm25s_logger.setLevel(level)  # bm25s sets its logger to DEBUG when first imported, over the application's choice
    return bm25s


def bm25_index(documents: list[str], *, show_progress: bool = False) -> Any:
    """A bm25s retriever over ``documents`` (English stop words)."""
    bm25s = _bm25s()
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(documents, stopwords="en", show_progress=False), show_progress=show_progress)
    return retriever


def bm25_query_tokens(queries: list[str]) -> list[list[str]]:
    """Each query's tokens as words, the form ``retriever.get_scores`` takes (empty: only stop words)."""
    return _tokenize_queries(queries)[1]


def _tokenize_queries(queries: list[str]) -> tuple[Any, list[list[str]]]:
    """bm25s' tokenized queries (what ``retrieve`` takes) and the same as lists of words."""
    query_tokens = _bm25s().tokenize(queries, stopwords="en", show_progress=False)
    inverse = {i: t for t, i in query_tokens.vocab.items()}
    return query_tokens, [[inverse[i] for i in ids] for ids in query_tokens.ids]


def bm25_candidates(documents: list[str], queries: list[str], depth: int, *,
                    show_progress: bool = False) -> Candidates:
    """BM25 (bm25s, English stop words) top-``depth`` per query."""
    retriever = bm25_index(documents, show_progress=show_progress)
    query_tokens, token_lists = _tokenize_queries(queries)
    indices, scores = retriever.retrieve(query_tokens, k=min(depth, len(documents)), show_progress=show_progress,
                                         n_threads=0)

    # Rows of one query come together (one per labelled positive): score its corpus once.
    @functools.lru_cache(maxsize=1)
    def corpus_scores(query: int) -> np.ndarray | None:
        return retriever.get_scores(token_lists[query]) if token_lists[query] else None

    def pair_score(query: int, document: int) -> float:
        scores = corpus_scores(query)
        return 0.0 if scores is None else float(scores[document])

    return Candidates(np.asarray(indices, dtype=np.int64), np.asarray(scores, dtype=np.float32), pair_score)


def dense_embeddings(model: SentenceTransformer, documents: list[str], queries: list[str], *, batch_size: int,
                     backend: str, cache: EmbeddingCache | None,
                     show_progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Normalised (documents, queries) embeddings; documents come from the cache when it has them."""
    from embedtune.inference.search import encode_documents, encode_queries, make_encoder

    encoder = make_encoder(model, backend, batch_size=batch_size)
    doc_vectors = encode_documents(model, documents, cache=cache, show_progress=show_progress, encoder=encoder)
    query_vectors = encode_queries(model, queries, encoder=encoder)
    return doc_vectors, query_vectors


def dense_candidates(doc_vectors: np.ndarray, query_vectors: np.ndarray, depth: int) -> Candidates:
    """Cosine top-``depth``: exact for small corpora, FAISS HNSW for large ones."""
    depth = min(depth, len(doc_vectors))
    if len(doc_vectors) >= FAISS_MIN_DOCUMENTS:
        found = _faiss_top_k(doc_vectors, query_vectors, depth)
        if found is not None:
            scores, indices = found
            return Candidates(indices, scores, _cosine(doc_vectors, query_vectors))
    from embedtune.inference.search import exact_top_k

    scores, indices = exact_top_k(query_vectors, doc_vectors, depth)
    return Candidates(indices, scores, _cosine(doc_vectors, query_vectors))


def hybrid_candidates(lexical: Candidates, doc_vectors: np.ndarray, query_vectors: np.ndarray,
                      depth: int) -> Candidates:
    """Reciprocal-rank fusion of BM25 and dense rankings, scored by cosine for the filter."""
    dense = dense_candidates(doc_vectors, query_vectors, depth)
    cosine = _cosine(doc_vectors, query_vectors)
    fused_indices = np.full((len(query_vectors), depth), -1, dtype=np.int64)
    fused_scores = np.full((len(query_vectors), depth), -np.inf, dtype=np.float32)
    for q in range(len(query_vectors)):
        fused: dict[int, float] = {}
        for ranking in (lexical.indices[q], dense.indices[q]):
            for rank, doc in enumerate(ranking.tolist()):
                fused[doc] = fused.get(doc, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused, key=lambda d: (-fused[d], d))[:depth]
        fused_indices[q, :len(best)] = best
        fused_scores[q, :len(best)] = [cosine(q, d) for d in best]
    return Candidates(fused_indices, fused_scores, cosine)


def _cosine(doc_vectors: np.ndarray, query_vectors: np.ndarray) -> Callable[[int, int], float]:
    def score(query: int, document: int) -> float:
        return float(query_vectors[query] @ doc_vectors[document])
    return score


def _faiss_top_k(doc_vectors: np.ndarray, query_vectors: np.ndarray, depth: int
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        import faiss
    except ImportError:
        logger.info("faiss is not installed: exact search over %d documents (pip install faiss-cpu)",
                    len(doc_vectors))
        return None
    index = faiss.IndexHNSWFlat(doc_vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efSearch = max(64, 2 * depth)
    index.add(np.ascontiguousarray(doc_vectors, dtype=np.float32))
    scores, indices = index.search(np.ascontiguousarray(query_vectors, dtype=np.float32), depth)
    return scores.astype(np.float32), indices.astype(np.int64)
