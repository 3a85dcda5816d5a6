"""Running ``--recipe auto``'s candidates: each one's first epoch, scored on dev (see ``recipe``).

The search logic (candidates, bootstrap, the pick) lives in :mod:`embedtune.training.recipe` and
knows nothing of trainers; this module turns a candidate into training rows, a config and a
short run in ``OUT/recipe/<candidate>/``, and saves the choice in ``OUT/recipe/choice.json`` so a
rerun after a kill does not search again (and each finished candidate's outcome, so a search cut off
midway runs only the candidates it had not finished).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from embedtune._io import write_json_atomic
from embedtune.config import TrainConfig
from embedtune.data.types import RetrievalSet, TrainingPairs
from embedtune.loss_registry import loss_spec
from embedtune.training.checkpointing import run_training
from embedtune.training.data_prep import PreparedData
from embedtune.training.distributed import fit_batch_to_rows, world_size
from embedtune.training.negatives import can_mine, training_rows
from embedtune.training.output_dir import CHECKPOINTS, RECIPE_DIR, latest_checkpoint
from embedtune.training.recipe import Candidate, ProbeOutcome, negative_candidates, search_recipe

logger = logging.getLogger(__name__)

CHOICE_FILE = "choice.json"
OUTCOME_FILE = "outcome.json"  # in each candidate's folder: its dev scores, once its first epoch is done
PROBE_EPOCHS = 1.0  # a candidate runs the first epoch of the full schedule it stands for,
PROBE_SHARE = 1 / 3  # or the first third of a schedule shorter than three epochs
MIN_ROW_SHARE = 0.5  # a mined candidate keeping fewer of the labelled rows is not tried
# Below this many dev queries the bootstrap spread (about ±0.05 nDCG@10 at 50) is wider than the gaps
# between recipes, so a search could only pick noise: the simplest recipe is taken without one.
MIN_DEV_QUERIES = 50


def why_not_searched(config: TrainConfig, sets: list[PreparedData]) -> str | None:
    """Why ``--recipe auto`` falls back to the flags as given here, or None when it searches."""
    if config.recipe != "auto":
        return None
    if len(sets) > 1:
        return "several data sets"
    if sets[0].has_images:
        return "image data (the candidates differ in mined negatives, and BM25 cannot read images)"
    if not loss_spec(config.loss).in_batch:  # only in-batch losses' rows may gain mined negatives
        return f"loss {config.loss} (its rows and labels are fixed)"
    if world_size() > 1:
        return "several processes (torchrun): the search runs in one"
    dev_queries = len(sets[0].dev.queries)
    if dev_queries < MIN_DEV_QUERIES:
        return (f"{dev_queries} dev queries, too few to tell recipes apart (at least {MIN_DEV_QUERIES}); "
                "in-batch negatives unless --negatives says otherwise")
    return None


def fixed_rows(config: TrainConfig, prepared: PreparedData, model: Any, cache: Any,
               show_progress: bool) -> TrainingPairs:
    """The rows of ``--recipe fixed``: the data's own, or with ``--negatives METHOD`` mined ones (filtered)."""
    if prepared.train.negatives or config.negatives in ("auto", "none") or not can_mine(prepared, config):
        return prepared.train
    return training_rows(Candidate("fixed", config.negatives, True), prepared, config, model, cache, show_progress)


def choose_recipe(config: TrainConfig, prepared: PreparedData, dev_sample: RetrievalSet, model: Any, out: Path,
                  cache: Any, show_progress: bool, precision: str, fresh_model: Callable[[TrainConfig], Any],
                  build_trainer: Callable[..., tuple[Any, Any]], guard: RetrievalSet | None,
                  guard_score: Callable[[Any], float] | None) -> tuple[TrainConfig, TrainingPairs, Path | None,
                                                                        dict[str, Any]]:
    """The winning candidate's config and rows, the checkpoint its final run resumes from, and the account."""
    folder = out / RECIPE_DIR
    saved = _read_choice(folder / CHOICE_FILE)
    if saved is not None:
        winner = Candidate(**saved["winner"])
        logger.info("recipe: %s, chosen by the earlier run in %s", winner.name, out)
        checkpoint = Path(saved["checkpoint"])
        chosen_config, rows = candidate_config(config, winner, prepared, model, cache, show_progress)
        return chosen_config, rows, checkpoint if checkpoint.is_dir() else None, saved
    memo: dict[tuple[str, bool], TrainingPairs] = {}

    def rows_of(candidate: Candidate) -> TrainingPairs:
        key = (candidate.negatives, candidate.filtered)
        if key not in memo:
            memo[key] = training_rows(candidate, prepared, config, model, cache, show_progress)
        return memo[key]

    def probe(candidate: Candidate) -> ProbeOutcome | str:
        start = time.perf_counter()
        rows = rows_of(candidate)
        mining_seconds = time.perf_counter() - start
        if len(rows) < max(2, MIN_ROW_SHARE * len(prepared.train)):
            return f"mining kept {len(rows)} of {len(prepared.train)} rows (the filter refused the rest)"
        run_dir = folder / slug(candidate.name)
        finished = _read_outcome(run_dir, candidate)
        if finished is not None:  # a search cut off after this candidate: its first epoch is not run again
            logger.info("recipe: %s finished in the earlier run", candidate.name)
            return finished
        if run_dir.exists():  # cut off mid-candidate: it starts again
            shutil.rmtree(run_dir)
        probe_config = fit_batch_to_rows(dataclasses.replace(config, learning_rate=config.resolved_learning_rate
                                                             * candidate.lr_scale), len(rows), 1)
        epochs = probe_epochs(config.epochs)
        logger.info("recipe: trying %s (%d rows, lr %g) for %.2g epoch", candidate.name, len(rows),
                    probe_config.learning_rate, epochs)
        probe_model = fresh_model(probe_config)
        trainer, evaluator = build_trainer(probe_model, [rows.to_columns()], len(rows), [dev_sample], probe_config,
                                           run_dir / CHECKPOINTS, show_progress, precision)
        trainer.add_callback(_StopAt(epochs))
        run_training(trainer, None)
        checkpoint = latest_checkpoint(run_dir)
        guard_dev = guard_score(trainer.model) if guard_score else None
        outcome = ProbeOutcome(per_query=dict(evaluator.per_query), checkpoint=str(checkpoint), guard_dev=guard_dev,
                               seconds=time.perf_counter() - start, mining_seconds=mining_seconds)
        write_json_atomic(run_dir / OUTCOME_FILE, {"candidate": dataclasses.asdict(candidate),
                                                  **dataclasses.asdict(outcome)})
        return outcome

    guard_base = guard_score(model) if guard_score else None
    stage_one = negative_candidates(config.negatives, can_mine(prepared, config), bool(prepared.train.negatives))
    winner, choice = search_recipe(stage_one, probe, vary_learning_rate=config.learning_rate is None,
                                   guard_base=guard_base, guard_threshold=config.guard_threshold, seed=config.seed)
    account = {**choice.to_dict(), "winner": dataclasses.asdict(winner)}
    write_json_atomic(folder / CHOICE_FILE, account)
    chosen_config, rows = candidate_config(config, winner, prepared, model, cache, show_progress, rows_of(winner))
    return chosen_config, rows, Path(choice.checkpoint), account


def candidate_config(config: TrainConfig, candidate: Candidate, prepared: PreparedData, model: Any, cache: Any,
                      show_progress: bool, rows: TrainingPairs | None = None) -> tuple[TrainConfig, TrainingPairs]:
    """A candidate's settings (its learning rate, the batch fitted to its rows) and rows (mined with ``model``)."""
    rows = rows if rows is not None else training_rows(candidate, prepared, config, model, cache, show_progress)
    chosen = dataclasses.replace(config, learning_rate=config.resolved_learning_rate * candidate.lr_scale)
    return fit_batch_to_rows(chosen, len(rows), 1), rows


def _read_outcome(run_dir: Path, candidate: Candidate) -> ProbeOutcome | None:
    """A candidate's saved outcome, if the same candidate finished there and its checkpoint is complete."""
    saved = _read_choice(run_dir / OUTCOME_FILE)
    if saved is None or saved.get("candidate") != dataclasses.asdict(candidate):
        return None
    saved.pop("candidate")
    outcome = ProbeOutcome(**saved)
    return outcome if latest_checkpoint(run_dir) == Path(outcome.checkpoint) else None


def _read_choice(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def slug(name: str) -> str:
    """A candidate's folder name under ``OUT/recipe/``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def probe_epochs(epochs: float) -> float:
    """How much of its schedule a candidate runs: one epoch, or a third of a shorter schedule."""
    return min(PROBE_EPOCHS, epochs * PROBE_SHARE)


class _StopAt(TrainerCallback):
    """Evaluate on dev, checkpoint and stop at the first step that reaches ``epochs``."""

    def __init__(self, epochs: float) -> None:
        self.epochs = epochs

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.epoch is not None and state.epoch >= self.epochs - 1e-6:
            control.should_evaluate = control.should_save = control.should_training_stop = True
