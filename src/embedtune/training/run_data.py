"""Step 1 of a training run: read and check every input before the model loads or the output folder opens.

A mistake in the data, the loss's needs or the guard set fails here in seconds, so a corrected
rerun needs no ``--overwrite``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedtune.config import TrainConfig
from embedtune.data.types import RetrievalSet, TrainingPairs
from embedtune.errors import ConfigError
from embedtune.loss_registry import loss_spec
from embedtune.training.data_prep import PreparedData, prepare_data
from embedtune.training.distributed import fit_batch_to_rows, world_size

TrainData = str | Path | RetrievalSet | TrainingPairs


@dataclass
class RunData:
    """The prepared data sets (the first one drives the guard and the before/after scores), the
    forgetting guard's labelled split, and the settings with the batch fitted to the rows."""

    sources: list[TrainData]
    sets: list[PreparedData]
    config: TrainConfig
    guard: RetrievalSet | None

    @property
    def first(self) -> PreparedData:
        return self.sets[0]

    @property
    def description(self) -> str:
        return "; ".join(p.description for p in self.sets)

    def names(self) -> str | list[str]:
        """How the saved settings name the data: a path as given, or the data's description."""
        names = [str(d) if isinstance(d, (str, Path)) else p.description for d, p in zip(self.sources, self.sets)]
        return names if len(names) > 1 else names[0]


def prepare_run_data(data: TrainData | list[TrainData], config: TrainConfig) -> RunData:
    """Load every data set, carve its dev split, check the rows against the loss, read the guard."""
    sources = list(data) if isinstance(data, (list, tuple)) else [data]
    if not sources:
        raise ConfigError("no training data given")
    loss = loss_spec(config.loss)
    if len(sources) > 1 and not loss.several_datasets:
        raise ConfigError(f"loss {loss.name} trains on one data set (its teacher scores the rows of one set); "
                          "use margin_mse for several")
    if len(sources) > 1 and config.guard_data is not None:
        raise ConfigError("the forgetting guard (guard_data) works with one training data set; "
                          "train on several without it, or on one with it")
    sets = [prepare_data(d, split=config.split, eval_split=config.eval_split, dev_fraction=config.dev_fraction,
                         max_dev_queries=config.max_dev_queries, seed=config.seed) for d in sources]
    for p in sets if loss.check_rows else []:
        loss.check_rows(p.train)
    config = fit_batch_to_rows(config, min(len(p.train) for p in sets), world_size())
    return RunData(sources, sets, config, _load_guard(config))


def _load_guard(config: TrainConfig) -> RetrievalSet | None:
    """The forgetting guard's labelled split, read and halved now so bad guard data fails before training."""
    if config.guard_data is None:
        return None
    from embedtune.data.beir import load_beir
    from embedtune.errors import DataError
    from embedtune.training.guard import split_guard_queries

    try:
        guard = load_beir(config.guard_data, config.guard_split)
    except DataError as exc:
        raise ConfigError(f"guard_data: {exc}") from None
    split_guard_queries(guard, config.seed)
    return guard


def dataset_summaries(run: RunData, befores: list[Any], afters: list[Any]) -> list[dict[str, Any]] | None:
    """Each set's description, pair count and held-out scores, for a run on several sets."""
    if len(run.sets) == 1:
        return None
    return [{"data": p.description, "train_pairs": len(p.train), "dev_queries": len(p.dev.queries),
             "heldout_split": p.heldout.split if p.heldout else None, "before": b, "after": a}
            for p, b, a in zip(run.sets, befores, afters)]
