"""Hard negatives for training rows, mined by ``embedtune train`` itself (``--negatives``).

A user who runs the one command should not have to learn ``embedtune mine`` first: when the rows
carry no negatives, each (query, positive) gets ``num_negatives`` documents that the model (and
BM25) rank high but that are not labelled relevant. The corpus is the BEIR folder's own corpus,
or, for a pair file, the other rows' positives (the file is the corpus). The false-negative
filter (a candidate scoring within 5% of the positive is dropped) is on unless ``filtered`` is
False. Rows are cached on disk by data, model and settings, so a rerun (or a resumed run) does
not mine again.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune.config import MineConfig, TrainConfig
from embedtune.data.types import RetrievalSet, TrainingPairs
from embedtune.training.data_prep import PreparedData, pairs_as_retrieval_set

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.inference.cache import EmbeddingCache
    from embedtune.training.recipe import Candidate

logger = logging.getLogger(__name__)

WINDOW = 50  # candidates considered per query, as embedtune mine's default range_max


def mining_corpus(prepared: PreparedData) -> RetrievalSet:
    """What negatives are mined from: the BEIR corpus, or for a pair file its rows' positives."""
    return prepared.train_set if prepared.train_set is not None else pairs_as_retrieval_set(prepared.train)


def can_mine(prepared: PreparedData, config: TrainConfig) -> bool:
    """Rows without negatives of their own, and a corpus with room for the negatives besides each positive."""
    return not prepared.train.negatives and len(mining_corpus(prepared).corpus) > config.num_negatives + 1


def training_rows(candidate: Candidate, prepared: PreparedData, config: TrainConfig, model: SentenceTransformer,
                  cache: EmbeddingCache | None, show_progress: bool) -> TrainingPairs:
    """The rows a candidate trains on: without negatives, the data's own, or mined ones."""
    if candidate.negatives == "given":
        return prepared.train
    if candidate.negatives == "none":
        return TrainingPairs(queries=list(prepared.train.queries), positives=list(prepared.train.positives),
                             source=prepared.train.source)
    from embedtune.inference.cache import model_fingerprint

    return mine_training_rows(mining_corpus(prepared), method=candidate.negatives,
                              num_negatives=config.num_negatives, filtered=candidate.filtered, model=model,
                              model_key=model_fingerprint(model), max_seq_length=config.max_seq_length,
                              cache=cache, seed=config.seed, show_progress=show_progress)


def mine_training_rows(train_set: RetrievalSet, *, method: str, num_negatives: int, filtered: bool,
                       model: SentenceTransformer, model_key: str, max_seq_length: int | None,
                       cache: EmbeddingCache | None, seed: int, show_progress: bool = False) -> TrainingPairs:
    """(query, positive, negatives) rows for the labelled pairs of ``train_set``.

    A pair for which fewer than ``num_negatives`` candidates pass the filter is left out (rows of
    one training set carry the same number of negatives); how many is logged.
    """
    from embedtune.mining import mine_hard_negatives

    config = MineConfig(method=method, num_negatives=num_negatives, seed=seed, max_seq_length=max_seq_length,
                        relative_margin=0.05 if filtered else None,
                        range_max=max(num_negatives, min(WINDOW, len(train_set.corpus) - 1)))
    path = _cache_path(cache, train_set, config, model_key)
    cached = _read_rows(path) if path else None
    if cached is not None:
        logger.info("hard negatives: %d rows from the cache (%s)", len(cached), path.name if path else "")
        return cached
    logger.info("hard negatives: mining %d per row (%s, false-negative filter %s) over %d documents",
                num_negatives, method, "on" if filtered else "off", len(train_set.corpus))
    result = mine_hard_negatives(train_set, config, model=model, cache=cache, show_progress=show_progress)
    rows = TrainingPairs(queries=[r.query for r in result.rows], positives=[r.positive for r in result.rows],
                         negatives=[list(r.negatives) for r in result.rows], source=train_set.source)
    if len(rows) < result.pairs:
        logger.info("hard negatives: %d of %d pairs kept fewer than %d negatives after filtering and are left "
                    "out", result.pairs - len(rows), result.pairs, num_negatives)
    if path:
        _write_rows(path, rows)
    return rows


def _cache_path(cache: EmbeddingCache | None, data: RetrievalSet, config: MineConfig, model_key: str) -> Path | None:
    if cache is None:
        return None
    digest = hashlib.sha256()
    for part in (json.dumps(config.to_dict(), sort_keys=True), model_key,
                 json.dumps(data.corpus, sort_keys=True), json.dumps(data.queries, sort_keys=True),
                 json.dumps(data.qrels, sort_keys=True)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return cache.directory / "mined" / f"{digest.hexdigest()[:32]}.jsonl"


def _read_rows(path: Path) -> TrainingPairs | None:
    try:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError):
        return None
    return TrainingPairs(queries=[r["query"] for r in rows], positives=[r["positive"] for r in rows],
                         negatives=[r["negatives"] for r in rows], source=str(path))


def _write_rows(path: Path, rows: TrainingPairs) -> None:
    from embedtune._io import write_text_atomic

    lines: list[dict[str, Any]] = [{"query": q, "positive": p, "negatives": n}
                                   for q, p, n in zip(rows.queries, rows.positives, rows.negatives)]
    write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
