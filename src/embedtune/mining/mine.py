"""``mine_hard_negatives``: (query, positive, negatives) rows from a labelled BEIR split."""
from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune.config import MineConfig
from embedtune.data.images import has_images
from embedtune.errors import EmbedtuneError
from embedtune.mining.candidates import (Candidates, bm25_candidates, dense_candidates, dense_embeddings,
                                         hybrid_candidates)
from embedtune.mining.filters import CrossEncoderFilter, MarginFilter, labelled_positives

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.data.types import RetrievalSet
    from embedtune.inference.cache import EmbeddingCache

logger = logging.getLogger(__name__)


class MiningError(EmbedtuneError):
    """Mining cannot produce a usable training file from this data and these settings."""


@dataclass
class MinedRow:
    query: str
    positive: str
    negatives: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "positive": self.positive, "negatives": self.negatives}


@dataclass
class MiningResult:
    """The rows, and the account of what was dropped and why."""

    rows: list[MinedRow]
    config: dict[str, Any]
    queries: int = 0
    pairs: int = 0
    skipped_queries_without_positive: int = 0
    dropped_rows: Counter = field(default_factory=Counter)  # reason -> rows
    dropped_candidates: Counter = field(default_factory=Counter)  # reason -> candidates
    seconds: float = 0.0

    def save(self, path: str | Path) -> None:
        """JSONL that ``embedtune train --data`` reads, written atomically."""
        import json

        from embedtune._io import write_text_atomic

        write_text_atomic(path, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in self.rows))

    def summary(self) -> dict[str, Any]:
        return {"queries": self.queries, "pairs": self.pairs, "rows_kept": len(self.rows),
                "skipped_queries_without_positive": self.skipped_queries_without_positive,
                "dropped_rows": dict(self.dropped_rows), "dropped_candidates": dict(self.dropped_candidates),
                "seconds": round(self.seconds, 2), "config": self.config}

    def to_table(self) -> str:
        lines = [f"{self.pairs} (query, positive) pairs from {self.queries} queries -> {len(self.rows)} rows "
                 f"with {self.config['num_negatives']} negatives each ({self.seconds:.1f}s)"]
        if self.skipped_queries_without_positive:
            lines.append(f"  skipped {self.skipped_queries_without_positive} queries with no positive label")
        for reason, count in self.dropped_candidates.most_common():
            lines.append(f"  candidates refused, {reason}: {count}")
        for reason, count in self.dropped_rows.most_common():
            lines.append(f"  rows dropped, {reason}: {count}")
        return "\n".join(lines)


def mine_hard_negatives(data: RetrievalSet, config: MineConfig | None = None, *,
                        model: SentenceTransformer | None = None, cache: EmbeddingCache | None = None,
                        show_progress: bool = False) -> MiningResult:
    """For every labelled (query, positive), ``config.num_negatives`` hard negatives from ``data.corpus``.

    Labelled positives of the query are never negatives, nor are those of another query id with
    the same text, nor documents whose text is a positive's; documents judged 0 (not relevant) may
    be. Candidates come from the rank window ``range_min..range_max``, pass the margin and
    cross-encoder filters, and are taken best first or sampled; a row that cannot get enough is
    dropped and counted, never padded.
    """
    config = config or MineConfig()
    start = time.perf_counter()
    query_ids = [q for q in data.queries if data.positives(q)]
    if not query_ids:
        raise MiningError(f"{data.source} split {data.split}: no query has a positive label (score > 0); "
                          "hard negatives need (query, positive) pairs")
    doc_ids = list(data.corpus)
    _check_window(len(doc_ids), config)
    documents = [data.corpus[d] for d in doc_ids]
    queries = [data.queries[q] for q in query_ids]
    candidates = _rank(documents, queries, config, model, cache, show_progress)

    result = MiningResult(rows=[], config=config.to_dict(), queries=len(query_ids),
                          skipped_queries_without_positive=len(data.queries) - len(query_ids))
    position = {d: i for i, d in enumerate(doc_ids)}
    never_negative = labelled_positives(data, doc_ids)
    margin = MarginFilter.from_config(config)
    judge = (CrossEncoderFilter(config.cross_encoder, config.cross_encoder_threshold,
                                max_length=config.max_seq_length) if config.cross_encoder else None)
    rng = random.Random(config.seed)
    from tqdm.auto import tqdm

    for q, qid in enumerate(tqdm(query_ids, desc="mining", unit="query", disable=not show_progress)):
        labelled = never_negative[queries[q].strip()]
        window = [int(d) for d in candidates.indices[q][config.range_min:config.range_max] if d >= 0]
        window_scores = dict(zip(window, candidates.scores[q][config.range_min:config.range_max].tolist()))
        for did in data.positives(qid):
            result.pairs += 1
            chosen = _choose(q, position[did], window, window_scores, labelled, candidates, margin, judge,
                             queries[q], documents, config, rng, result.dropped_candidates)
            if len(chosen) < config.num_negatives:
                result.dropped_rows[f"fewer than {config.num_negatives} negatives left after filtering"] += 1
                continue
            result.rows.append(MinedRow(queries[q], data.corpus[did], [documents[i] for i in chosen]))
    result.seconds = time.perf_counter() - start
    if not result.rows:
        refused = ", ".join(f"{n} {r}" for r, n in result.dropped_candidates.most_common()) or "none refused"
        raise MiningError(f"no (query, positive) pair kept {config.num_negatives} negatives after filtering "
                          f"(candidates refused: {refused}); lower num_negatives or the margins, or widen "
                          "range_max")
    logger.info("mined %d rows in %.1fs", len(result.rows), result.seconds)
    return result


def _check_window(num_documents: int, config: MineConfig) -> None:
    needed = config.range_min + config.num_negatives + 1  # + the positive itself
    if num_documents < needed:
        noun = "document" if num_documents == 1 else "documents"
        raise MiningError(f"the corpus has {num_documents} {noun}, too few to skip the top {config.range_min} "
                          f"and take {config.num_negatives} negatives besides the positive; lower range_min or "
                          "num_negatives")


def _rank(documents: list[str], queries: list[str], config: MineConfig, model: SentenceTransformer | None,
          cache: EmbeddingCache | None, show_progress: bool) -> Candidates:
    depth = min(config.range_max, len(documents))
    if config.method != "dense" and (has_images(documents) or has_images(queries)):
        raise MiningError(f"--method {config.method} needs text (BM25 cannot read images); the data holds images: "
                          "use --method dense, which mines with the model")
    if config.method == "bm25":
        return bm25_candidates(documents, queries, depth, show_progress=show_progress)
    if model is None:
        from embedtune.models import load_model

        model = load_model(config.model, max_seq_length=config.max_seq_length)
    doc_vectors, query_vectors = dense_embeddings(model, documents, queries, batch_size=config.batch_size,
                                                  backend=config.backend, cache=cache,
                                                  show_progress=show_progress)
    if config.method == "dense":
        return dense_candidates(doc_vectors, query_vectors, depth)
    lexical = bm25_candidates(documents, queries, depth, show_progress=show_progress)
    return hybrid_candidates(lexical, doc_vectors, query_vectors, depth)


def _choose(q: int, positive: int, window: list[int], scores: dict[int, float], labelled: set[int],
            candidates: Candidates, margin: MarginFilter, judge: CrossEncoderFilter | None, query: str,
            documents: list[str], config: MineConfig, rng: random.Random, refused: Counter) -> list[int]:
    """The negatives for one (query, positive) row, in rank order (or sampled)."""
    ceiling = margin.ceiling(candidates.pair_score(q, positive)) if margin.active else float("inf")
    survivors = []
    for doc in window:
        if doc in labelled:
            continue  # a labelled positive is never a negative (not counted: it is not a refusal)
        if config.method == "bm25" and scores[doc] <= 0:
            refused["no lexical match (BM25 score 0)"] += 1
        elif scores[doc] > ceiling:
            refused["scored too close to the positive (margin)"] += 1
        else:
            survivors.append(doc)
    if judge is not None and survivors:
        verdicts = judge.relevant(query, [documents[d] for d in survivors])
        refused["judged relevant by the cross-encoder"] += sum(verdicts)
        survivors = [d for d, relevant in zip(survivors, verdicts) if not relevant]
    if config.sampling == "random":
        return sorted(rng.sample(survivors, min(config.num_negatives, len(survivors))), key=survivors.index)
    return survivors[:config.num_negatives]
