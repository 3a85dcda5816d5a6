"""Turning user data into training pairs, a dev split and an optional held-out split."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from embedtune.data.beir import available_splits, load_beir
from embedtune.data.pairs import load_pairs
from embedtune.data.split import split_by_query
from embedtune.data.types import RetrievalSet, TrainingPairs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedData:
    train: TrainingPairs
    dev: RetrievalSet
    heldout: RetrievalSet | None
    description: str
    train_set: RetrievalSet | None = None  # a BEIR folder's training queries over its whole corpus (for mining)

    @property
    def has_images(self) -> bool:
        """Whether any training row or dev document is an image (``embedtune.data.images``)."""
        from embedtune.data.images import has_images

        return (has_images(self.train.positives) or has_images(self.train.queries)
                or has_images(self.dev.corpus.values()))


def prepare_data(data: str | Path | RetrievalSet | TrainingPairs, *, split: str, eval_split: str | None,
                 dev_fraction: float, max_dev_queries: int, seed: int) -> PreparedData:
    """Load ``data`` and carve the dev split by query.

    A BEIR folder trains on ``split`` and, when it has ``eval_split``, reports on it before and
    after; a pair/triplet file gets its dev split from its own rows. The held-out split is never
    used to choose anything.
    """
    heldout, train_set = None, None
    if isinstance(data, (str, Path)) and Path(data).is_dir():
        folder = Path(data)
        full = load_beir(folder, split)
        if eval_split and eval_split != split and eval_split in available_splits(folder):
            heldout = load_beir(folder, eval_split)
        data = full
    elif isinstance(data, (str, Path)):
        data = load_pairs(data)
    if isinstance(data, RetrievalSet):
        train_set, dev = split_by_query(data, dev_fraction, seed, max_dev_queries)
        pairs = train_set.training_pairs()
        description = f"{data.source} split {data.split}: {len(pairs)} training pairs, {len(dev.queries)} dev queries"
    else:
        pairs, dev = _split_pairs(data, dev_fraction, seed, max_dev_queries)
        description = f"{data.source}: {len(pairs)} training rows, {len(dev.queries)} dev queries"
    logger.info(description)
    return PreparedData(train=pairs, dev=dev, heldout=heldout, description=description, train_set=train_set)


def pairs_as_retrieval_set(pairs: TrainingPairs) -> RetrievalSet:
    """View pair rows as a retrieval task: queries, the positives (and negatives) as corpus."""
    doc_ids: dict[str, str] = {}
    query_ids: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for i, (query, positive) in enumerate(zip(pairs.queries, pairs.positives)):
        qid = query_ids.setdefault(query, f"q{len(query_ids)}")
        did = doc_ids.setdefault(positive, f"d{len(doc_ids)}")
        qrels.setdefault(qid, {})[did] = 1
        for negative in pairs.negatives[i] if pairs.negatives else []:
            doc_ids.setdefault(negative, f"d{len(doc_ids)}")
    return RetrievalSet(corpus={d: t for t, d in doc_ids.items()}, queries={q: t for t, q in query_ids.items()},
                        qrels=qrels, source=pairs.source, split="pairs")


def _split_pairs(pairs: TrainingPairs, dev_fraction: float, seed: int,
                 max_dev_queries: int) -> tuple[TrainingPairs, RetrievalSet]:
    as_set = pairs_as_retrieval_set(pairs)
    _, dev = split_by_query(as_set, dev_fraction, seed, max_dev_queries)
    dev_texts = set(dev.queries.values())
    keep = [i for i, q in enumerate(pairs.queries) if q not in dev_texts]
    train = TrainingPairs(
        queries=[pairs.queries[i] for i in keep],
        positives=[pairs.positives[i] for i in keep],
        negatives=[pairs.negatives[i] for i in keep] if pairs.negatives else [],
        source=pairs.source,
    )
    return train, dev
