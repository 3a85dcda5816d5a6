"""Train/dev splits by query, so no query (or identical query text) lands on both sides."""
from __future__ import annotations

import random

from embedtune.data.types import RetrievalSet
from embedtune.errors import ConfigError


def split_by_query(data: RetrievalSet, dev_fraction: float = 0.1, seed: int = 42,
                   max_dev_queries: int | None = None) -> tuple[RetrievalSet, RetrievalSet]:
    """Carve a dev split off ``data`` by query.

    Queries with the same normalised text are kept together: otherwise a duplicated query in
    both splits would leak its answer into the dev score that picks the checkpoint.
    """
    if not 0.0 < dev_fraction < 1.0:
        raise ConfigError(f"dev_fraction must be between 0 and 1 (exclusive), got {dev_fraction}")
    groups: dict[str, list[str]] = {}
    for qid in sorted(data.queries):
        groups.setdefault(" ".join(data.queries[qid].lower().split()), []).append(qid)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = max(1, round(dev_fraction * len(data.queries)))
    if max_dev_queries is not None:
        target = min(target, max_dev_queries)
    if len(keys) < 2:
        raise ConfigError(f"cannot split {len(data.queries)} distinct queries into train and dev; "
                          "add queries or give a dev split explicitly")
    dev_ids: list[str] = []
    for key in keys[:-1]:  # the last group always stays in train
        if len(dev_ids) >= target:
            break
        dev_ids.extend(groups[key])
    dev_set = set(dev_ids)
    train_ids = [q for q in data.queries if q not in dev_set]
    return data.restrict_queries(train_ids, f"{data.split}-train"), data.restrict_queries(dev_ids, f"{data.split}-dev")
