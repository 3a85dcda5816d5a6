"""Dense retrieval: encode (through the cache), then exact cosine top-k."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from embedtune.inference.cache import EmbeddingCache, model_fingerprint
from embedtune.inference.encoder import DEFAULT_BACKEND, EXACT_BACKENDS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sentence_transformers import SentenceTransformer

    from embedtune.data.types import RetrievalSet
    from embedtune.inference import FastEncoder

logger = logging.getLogger(__name__)


def make_encoder(model: SentenceTransformer, backend: str = DEFAULT_BACKEND, *, batch_size: int = 32,
                 devices: list[str] | None = None, corpus: Sequence[str] | None = None) -> FastEncoder:
    """One encoder for documents and queries alike, so an ONNX export or session starts once.

    The fast backends fill batches by tokens: ``batch_size`` rows of the model's full length, and on
    a CPU at most ``CPU_MAX_TOKENS`` (see ``embedtune.inference.encoder.token_budget``). ``corpus``
    is the documents it will serve, which ``openvino-int8`` calibrates on.
    """
    from embedtune.inference import FastEncoder

    encoder = FastEncoder(model, backend, batch_size=batch_size, devices=devices)
    if corpus is not None:
        encoder.use_corpus(corpus)
    return encoder


def encode_documents(model: SentenceTransformer, texts: list[str], *, batch_size: int = 32,
                     cache: EmbeddingCache | None = None, show_progress: bool = False,
                     backend: str = DEFAULT_BACKEND, devices: list[str] | None = None,
                     encoder: FastEncoder | None = None) -> np.ndarray:
    """Unit-normalised document embeddings, loaded from ``cache`` when this model saw these texts.

    Exact (fp32) backends share cache entries; bf16 and int8 embeddings are kept apart, so a
    fast approximate run never passes for an exact one. ``encoder`` (from ``make_encoder``)
    replaces ``batch_size``, ``backend`` and ``devices``.
    """
    encoder = encoder or make_encoder(model, backend, batch_size=batch_size, devices=devices)
    encoder.use_corpus(texts)  # before the cache: documents and queries from one calibrated int8 model
    role = "documents" if encoder.backend in EXACT_BACKENDS else f"documents-{encoder.backend}"
    path = cache.path_for(model_fingerprint(model), texts, role) if cache else None
    if path is not None and (cached := cache.load(path)) is not None and len(cached) == len(texts):
        logger.info("loaded %d document embeddings from the cache (%s)", len(texts), path.name)
        return cached
    embeddings = normalised(encoder.encode(texts, "document", show_progress=show_progress))
    if path is not None:
        cache.save(path, embeddings)
    return embeddings


def encode_queries(model: SentenceTransformer, texts: list[str], *, batch_size: int = 32,
                   show_progress: bool = False, backend: str = DEFAULT_BACKEND,
                   devices: list[str] | None = None, encoder: FastEncoder | None = None) -> np.ndarray:
    encoder = encoder or make_encoder(model, backend, batch_size=batch_size, devices=devices)
    return normalised(encoder.encode(texts, "query", show_progress=show_progress))


def normalised(embeddings: np.ndarray) -> np.ndarray:
    """Unit rows, whether or not the model ends in a Normalize module (search is by inner product)."""
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return (embeddings / np.clip(norms, 1e-12, None)).astype(np.float32, copy=False)


def exact_top_k(queries: np.ndarray, documents: np.ndarray, k: int, chunk: int = 1024
                ) -> tuple[np.ndarray, np.ndarray]:
    """Scores and indices of the ``k`` best documents per query (inner product), best first."""
    k = min(k, documents.shape[0])
    all_scores = np.empty((queries.shape[0], k), dtype=np.float32)
    all_indices = np.empty((queries.shape[0], k), dtype=np.int64)
    for start in range(0, queries.shape[0], chunk):
        scores = queries[start:start + chunk] @ documents.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.argsort(-part_scores, axis=1, kind="stable")
        all_indices[start:start + chunk] = np.take_along_axis(part, order, axis=1)
        all_scores[start:start + chunk] = np.take_along_axis(part_scores, order, axis=1)
    return all_scores, all_indices


def truncate(embeddings: np.ndarray, dim: int) -> np.ndarray:
    """The first ``dim`` dimensions of each row, re-normalised (how Matryoshka embeddings are used)."""
    return normalised(np.ascontiguousarray(embeddings[:, :dim]))


def encode_retrieval_set(model: SentenceTransformer, data: RetrievalSet, query_ids: list[str], *,
                         batch_size: int = 32, cache: EmbeddingCache | None = None, show_progress: bool = False,
                         backend: str = DEFAULT_BACKEND, devices: list[str] | None = None,
                         encoder: FastEncoder | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unit-normalised (query, document) embeddings, documents in ``data.corpus`` order. ``encoder``
    (from ``make_encoder``) replaces ``batch_size``, ``backend`` and ``devices``."""
    encoder = encoder or make_encoder(model, backend, batch_size=batch_size, devices=devices)
    documents = encode_documents(model, list(data.corpus.values()), cache=cache,
                                 show_progress=show_progress, encoder=encoder)
    queries = encode_queries(model, [data.queries[q] for q in query_ids], encoder=encoder)
    return queries, documents


def search(queries: np.ndarray, documents: np.ndarray, query_ids: list[str], doc_ids: list[str],
           top_k: int) -> dict[str, dict[str, float]]:
    """A run (query id → {doc id → score}) of the ``top_k`` documents for each query row."""
    scores, indices = exact_top_k(queries, documents, top_k)
    return {
        qid: {doc_ids[j]: float(s) for s, j in zip(scores[i], indices[i])}
        for i, qid in enumerate(query_ids)
    }


def retrieve(model: SentenceTransformer, data: RetrievalSet, *, top_k: int = 100, batch_size: int = 32,
             cache: EmbeddingCache | None = None, show_progress: bool = False,
             query_ids: list[str] | None = None, backend: str = DEFAULT_BACKEND,
             devices: list[str] | None = None) -> dict[str, dict[str, float]]:
    """A run (query id → {doc id → score}) of the ``top_k`` documents for each query."""
    qids = query_ids if query_ids is not None else list(data.queries)
    queries, documents = encode_retrieval_set(model, data, qids, batch_size=batch_size, cache=cache,
                                              show_progress=show_progress, backend=backend, devices=devices)
    return search(queries, documents, qids, list(data.corpus), top_k)
