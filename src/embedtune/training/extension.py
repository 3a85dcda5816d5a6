"""``--recipe auto``'s last look: when dev still rose at the final run's last evaluation, train on.

Three epochs is short for some data and long for other: trained for 6 epochs instead of 3, the
in-batch recipe's dev nDCG@10 peaked at epoch 5 on both benchmark sets (code search 0.8157 against
0.7962 after 3, SciFact 0.9067 against 0.8834) and scored higher on test
(bench/results/default_recipe_epochs.json). A longer schedule for every run would cost every run;
here only a run whose best dev checkpoint is its last evaluation (its dev score had not peaked) is
trained on, from those weights, on a fresh schedule at ``LR_SCALE`` times its learning rate (about
where a schedule twice as long would be at its midpoint), for up to ``extend_epochs`` more epochs.
It stops at the first evaluation that does not beat the best dev score so far, so a run that has in
fact peaked pays one epoch. The weights the dev split prefers are kept: the extension's best
checkpoint, or the run's own as they were. Nothing here looks at the held-out split.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from embedtune.config import TrainConfig
from embedtune.data.types import RetrievalSet
from embedtune.training.checkpointing import run_training
from embedtune.training.output_dir import CHECKPOINTS, RECIPE_DIR, latest_checkpoint
from embedtune.training.trainer_setup import best_step

logger = logging.getLogger(__name__)

EXTENSION_DIR = "extension"  # under RECIPE_DIR: scratch of the run, removed when it finishes
LR_SCALE = 0.5


@dataclass
class Extension:
    """The extension's outcome: its trainer (logs), whether its weights were kept, and the account."""

    trainer: Any
    kept: bool
    account: dict[str, Any]


def still_rising(trainer: Any) -> bool:
    """Whether the run's best dev checkpoint is its last dev evaluation: the score had not peaked."""
    evaluated = [e["step"] for e in _evaluations(trainer)]
    best = best_step(trainer)
    return bool(evaluated) and best is not None and best == max(evaluated)


def extend_run(model: Any, run_trainer: Any, columns: list[dict[str, list]], num_rows: int,
               devs: list[RetrievalSet], config: TrainConfig, out: Path, show_progress: bool, precision: str,
               build_trainer: Callable[..., tuple[Any, Any]], pair_scorer: Any = None) -> Extension:
    """Train ``model`` (the run's best weights, loaded) on for up to ``config.extend_epochs`` epochs.

    ``model`` ends with the weights the dev split prefers. A rerun after a kill resumes the extension
    from its newest checkpoint in ``out/recipe/extension``.
    """
    before = float(run_trainer.state.best_metric)
    start = time.perf_counter()
    saved = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    extended = replace(config, epochs=config.extend_epochs,
                       learning_rate=config.resolved_learning_rate * LR_SCALE)
    folder = out / RECIPE_DIR / EXTENSION_DIR
    logger.info("recipe: dev nDCG@10 still rose at the last evaluation (%.4f); training on for up to %g epochs "
                "at lr %.2g", before, extended.epochs, extended.learning_rate)
    trainer, _ = build_trainer(model, columns, num_rows, devs, extended, folder / CHECKPOINTS, show_progress,
                               precision, pair_scorer=pair_scorer)
    trainer.add_callback(StopWhenNotBetter(before, trainer.args.metric_for_best_model))
    run_training(trainer, latest_checkpoint(folder))
    after = trainer.state.best_metric
    kept = after is not None and after > before
    if not kept:  # the extension's best checkpoint is loaded; the run's own weights were better
        parameters = dict(model.named_parameters())
        for name, value in saved.items():
            parameters[name].data.copy_(value)
    account = {"best_dev_before": round(before, 4), "best_dev_after": None if after is None else round(after, 4),
               "kept": kept, "epochs_run": round(float(trainer.state.epoch or 0.0), 2),
               "max_epochs": extended.epochs, "learning_rate": extended.learning_rate,
               "evaluations": len(_evaluations(trainer)), "seconds": round(time.perf_counter() - start, 2),
               "rule": f"the run's best dev checkpoint was its last evaluation, so it was trained on at "
                       f"{LR_SCALE:g}x its learning rate until an evaluation did not beat the best so far; "
                       "the better weights on dev are kept"}
    logger.info("recipe: %s (best dev nDCG@10 %.4f before, %s after %g more epochs)",
                "kept the extension" if kept else "kept the run's own weights", before,
                "none" if after is None else f"{after:.4f}", account["epochs_run"])
    return Extension(trainer, kept, account)


def joined_history(run_history: Sequence[dict[str, Any]], extension: Any) -> list[dict[str, Any]]:
    """The run's log history, then the extension's with its steps and epochs counted on from the run's."""
    last = last_step(run_history)
    last_epoch = max((e.get("epoch", 0.0) for e in run_history), default=0.0)
    shifted = []
    for entry in extension.state.log_history:
        entry = dict(entry, extension=True)
        if "step" in entry:
            entry["step"] += last
        if "epoch" in entry:
            entry["epoch"] = round(entry["epoch"] + last_epoch, 4)
        shifted.append(entry)
    return [*run_history, *shifted]


def last_step(history: Sequence[dict[str, Any]]) -> int:
    """The highest step a log history reached (0 when empty)."""
    return max((e.get("step", 0) for e in history), default=0)


class StopWhenNotBetter(TrainerCallback):
    """Stop at the first dev evaluation that does not beat ``best`` (the run's) or an earlier one.

    A resumed extension replays the evaluations already in its log, so it stops where the first
    attempt would have."""

    def __init__(self, best: float, metric: str) -> None:
        self.best = best
        self.key = _log_key(metric)
        self.stopped = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        for entry in state.log_history:
            if self.key in entry:
                self._judge(entry[self.key])

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                    **kwargs: Any) -> None:
        score = (metrics or {}).get(self.key)
        if score is not None:
            self._judge(score)
        if self.stopped:
            control.should_training_stop = True

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.stopped:  # a resumed run that had already stopped
            control.should_training_stop = True

    def _judge(self, score: float) -> None:
        if score > self.best:
            self.best = score
        else:
            self.stopped = True


def _evaluations(trainer: Any) -> list[dict[str, Any]]:
    """The trainer's log entries that carry its dev metric (one per dev evaluation)."""
    key = _log_key(trainer.args.metric_for_best_model)
    return [e for e in trainer.state.log_history if key in e]


def _log_key(metric: str) -> str:
    """The name the Trainer logs a metric under (``metric_for_best_model`` may omit the ``eval_``)."""
    return metric if metric.startswith("eval_") else f"eval_{metric}"
