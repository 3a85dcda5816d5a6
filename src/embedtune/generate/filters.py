"""Quality filters for generated pairs: length bounds, deduplication, round-trip consistency.

Round trip (as in PAQ and Promptagator's consistency filtering): a generated query is kept only
if its own positive comes back in the top k when the query is searched against every positive
(and every passage that has none), by BM25 or by the current model. A query that retrieves
other passages first is too vague to teach which passage it belongs to.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from embedtune.generate.corpus import Passage
from embedtune.generate.offline import GeneratedPair

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

_NON_WORD = re.compile(r"[^\w\s]")


def normalise_query(text: str) -> str:
    """Lower case, punctuation dropped, spaces collapsed: "What is X?" and "what is x" are one query."""
    return " ".join(_NON_WORD.sub(" ", text.lower()).split())


def length_filter(pairs: Sequence[GeneratedPair], *, min_query_words: int, max_query_words: int,
                  min_passage_words: int, dropped: Counter) -> list[GeneratedPair]:
    kept = []
    for pair in pairs:
        words = len(pair.query.split())
        if words < min_query_words:
            dropped[f"query shorter than {min_query_words} words"] += 1
        elif words > max_query_words:
            dropped[f"query longer than {max_query_words} words"] += 1
        elif len(pair.positive.split()) < min_passage_words:
            dropped[f"positive shorter than {min_passage_words} words"] += 1
        else:
            kept.append(pair)
    return kept


def dedupe(pairs: Sequence[GeneratedPair], dropped: Counter) -> list[GeneratedPair]:
    """The first pair of each normalised query text; a query equal to its own positive is dropped too.

    A repeated query with different positives would also be a false in-batch negative in training.
    """
    seen: set[str] = set()
    kept = []
    for pair in pairs:
        key = normalise_query(pair.query)
        if key in seen:
            dropped["duplicate query"] += 1
        elif key == normalise_query(pair.positive):
            dropped["query is its whole positive"] += 1
        else:
            seen.add(key)
            kept.append(pair)
    return kept


def round_trip(pairs: Sequence[GeneratedPair], passages: Sequence[Passage], *, method: str, k: int,
               dropped: Counter, model: SentenceTransformer | None = None, batch_size: int = 32,
               show_progress: bool = False) -> list[GeneratedPair]:
    """The pairs whose passage is among the first ``k`` distinct passages retrieved for their query."""
    if not pairs:
        return []
    owners: list[str] = []
    texts: list[str] = []
    index_of: dict[tuple[str, str], int] = {}
    for pair in pairs:
        if (pair.doc_id, pair.positive) not in index_of:
            index_of[(pair.doc_id, pair.positive)] = len(texts)
            owners.append(pair.doc_id)
            texts.append(pair.positive)
    with_pairs = set(owners)
    for passage in passages:
        if passage.doc_id not in with_pairs:
            owners.append(passage.doc_id)
            texts.append(passage.full_text)
    per_doc = max(Counter(owners).values())
    depth = min(len(texts), k * per_doc)  # k distinct passages always lie within this depth
    queries = [p.query for p in pairs]
    if method == "bm25":
        from embedtune.mining.candidates import bm25_candidates

        found = bm25_candidates(texts, queries, depth, show_progress=show_progress)
    else:
        from embedtune.mining.candidates import dense_candidates, dense_embeddings
        from embedtune.models import load_model

        model = model if model is not None else load_model(None)
        docs, query_vectors = dense_embeddings(model, texts, queries, batch_size=batch_size, backend="torch",
                                               cache=None, show_progress=show_progress)
        found = dense_candidates(docs, query_vectors, depth)
    kept = []
    for i, pair in enumerate(pairs):
        if _rank_of(pair.doc_id, found.indices[i], found.scores[i], owners, lexical=method == "bm25") < k:
            kept.append(pair)
        else:
            dropped[f"round trip: its passage is not in the {method} top {k}"] += 1
    return kept


def _rank_of(doc_id: str, indices: np.ndarray, scores: np.ndarray, owners: list[str], lexical: bool) -> int:
    """The rank of ``doc_id`` among distinct passages (a large number when absent or unmatched)."""
    seen: list[str] = []
    for index, score in zip(indices.tolist(), scores.tolist()):
        if index < 0 or (lexical and score <= 0):  # BM25 0: no shared word, its place among ties means nothing
            break
        owner = owners[index]
        if owner == doc_id:
            return len(seen)
        if owner not in seen:
            seen.append(owner)
    return 1 << 30
