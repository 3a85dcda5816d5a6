"""``--recipe auto``'s second look: when the chosen recipe stalls after its first epoch, continue the runner-up.

The search picks a recipe on one epoch; which recipe is better *after one epoch* is not always which
is better at the end. On the code-search benchmark the chosen recipe (mined negatives, filtered;
dev 0.7883 after epoch 1, in-batch 0.7905, the two within the bootstrap spread) then fell
(0.7775, 0.7666) while in-batch rose (0.7939, 0.7962): the run kept the first epoch and lost to
in-batch on test. So when the final run's best dev score is still its first epoch (the candidate's
own), the other recipe the dev split could not tell from the best is trained on from *its* first-
epoch checkpoint too, and the higher best dev score is kept. Cost: that candidate's remaining epochs,
only in runs where the choice demonstrably did not pay; the candidate's first epoch is already paid.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedtune.config import TrainConfig
from embedtune.data.types import RetrievalSet
from embedtune.training.checkpointing import run_training
from embedtune.training.data_prep import PreparedData
from embedtune.training.losses import training_columns
from embedtune.training.output_dir import CHECKPOINTS, RECIPE_DIR, latest_checkpoint
from embedtune.training.probes import candidate_config, slug
from embedtune.training.recipe import Candidate, runner_up

logger = logging.getLogger(__name__)


@dataclass
class RunnerUp:
    """The runner-up's continued run: its model (best dev checkpoint loaded), trainer, settings and rows."""

    candidate: Candidate
    model: Any
    trainer: Any
    config: TrainConfig
    num_pairs: int
    resume: Path
    seconds: float
    columns: list[dict[str, list]]
    pair_scorer: Any


def stalled(best_step: int | None, probe_checkpoint: str) -> bool:
    """Whether the final run's best dev checkpoint is still the one its candidate's first epoch ended at."""
    try:
        probe_step = int(Path(probe_checkpoint).name.rsplit("-", 1)[-1])
    except ValueError:
        return False
    return best_step is not None and best_step <= probe_step


def continue_runner_up(account: dict[str, Any], chosen: Candidate, config: TrainConfig, prepared: PreparedData,
                       dev_samples: list[RetrievalSet], out: Path, cache: Any, show_progress: bool, precision: str,
                       fresh_model: Callable[[TrainConfig], Any],
                       build_trainer: Callable[..., tuple[Any, Any]]) -> RunnerUp | None:
    """Train the runner-up (``recipe.runner_up``) on from its first-epoch checkpoint, or None without one.

    ``config`` is the run's settings before the search scaled them. The runner-up's rows are mined with a
    fresh copy of the starting model, as its first epoch's were (the run's own model is trained by now).
    A rerun after a kill resumes from the newest checkpoint in the candidate's folder.
    """
    candidate = runner_up(account["candidates"], chosen)
    if candidate is None:
        return None
    run_dir = out / RECIPE_DIR / slug(candidate.name)
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:  # its first epoch's checkpoint is gone (a folder cleaned by hand): nothing to continue
        logger.info("recipe: %s has no checkpoint in %s to continue", candidate.name, run_dir)
        return None
    start = time.perf_counter()
    model = fresh_model(config)
    runner_config, rows = candidate_config(config, candidate, prepared, model, cache, show_progress)
    logger.info("recipe: %s never beat its first epoch on dev; continuing %s (within the spread) from %s",
                chosen.name, candidate.name, checkpoint.name)
    columns, scorer = training_columns(rows, runner_config, model, cache, show_progress, precision)
    trainer, _ = build_trainer(model, [columns], len(rows), dev_samples, runner_config, run_dir / CHECKPOINTS,
                               show_progress, precision, pair_scorer=scorer)
    run_training(trainer, checkpoint)
    return RunnerUp(candidate, model, trainer, runner_config, len(rows), checkpoint,
                    round(time.perf_counter() - start, 2), [columns], scorer)


def record(account: dict[str, Any], chosen: Candidate, chosen_best: float, runner: RunnerUp, kept: bool) -> None:
    """Write the second look into the search's account (``embedtune_train.json``, the report)."""
    runner_best = runner.trainer.state.best_metric
    account["continued"] = {
        "first_choice": chosen.name, "first_choice_best_dev": round(chosen_best, 4),
        "runner_up": runner.candidate.name, "runner_up_best_dev": round(runner_best, 4),
        "kept": runner.candidate.name if kept else chosen.name, "seconds": runner.seconds,
        "rule": "the chosen recipe's best dev score was its first epoch, so the best other recipe within the "
                "spread was trained on from its first epoch; the higher best dev score is kept"}
    if kept:
        account["chosen"] = runner.candidate.name
    logger.info("recipe: kept %s (best dev nDCG@10: %s %.4f, %s %.4f)", account["continued"]["kept"],
                chosen.name, chosen_best, runner.candidate.name, runner_best)
