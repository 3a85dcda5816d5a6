"""Cross-encoder reranking of a dense ranking: loading the model, scoring pairs, reordering a run.

It lives with evaluation (not serving) because both ``eval --rerank`` and the server's two-stage
search use it, and evaluation sits below serving in the package stack.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from embedtune.errors import ModelNotFoundError
from embedtune.evaluation.metrics import rank

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


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
    reranked: dict[str, dict[str, float]] = {}
    for qid, scores in run.items():
        ranking = rank(scores)
        head = ranking[:top]
        order = [head[i] for i in rerank_order(rerank_scores(cross_encoder, queries[qid], [corpus[d] for d in head]))]
        final = order + ranking[top:]
        reranked[qid] = {doc: float(len(final) - i) for i, doc in enumerate(final)}
    return reranked
