"""Step 4 of a training run: pick the recipe on the dev split (``--recipe auto``), build the trainer, train.

The recipe search trains each candidate's first epoch; the winner's run continues from its
checkpoint, so the final training here starts where the search left it. When that run's best dev
score is still its first epoch, the runner-up is trained on too and the better one kept
(``continuation``); when it is the run's last evaluation, the run trains on while dev still rises
(``extension``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from embedtune.config import TrainConfig
from embedtune.data.types import RetrievalSet
from embedtune.evaluation.evaluate import evaluate_model, sample_corpus
from embedtune.inference.cache import EmbeddingCache
from embedtune.inference.precision import training_encoder_backend
from embedtune.training.checkpointing import run_training
from embedtune.training.continuation import continue_runner_up, record, stalled
from embedtune.training.extension import extend_run, joined_history, last_step, still_rising
from embedtune.training.losses import training_columns
from embedtune.training.model_setup import fresh_model
from embedtune.training.output_dir import CHECKPOINTS
from embedtune.training.probes import choose_recipe, fixed_rows, why_not_searched
from embedtune.training.recipe import Candidate
from embedtune.training.run_data import RunData
from embedtune.training.trainer_setup import best_step as trainer_best_step
from embedtune.training.trainer_setup import build_trainer

logger = logging.getLogger(__name__)


@dataclass
class Fit:
    """What training produced: the model (best dev checkpoint loaded), the settings it ran with (the
    recipe's choice), the trainer (its logs), the dev samples that chose, and the account of the search."""

    model: Any
    config: TrainConfig
    trainer: Any
    dev_samples: list[RetrievalSet]
    num_pairs: int
    train_seconds: float
    best_step: int | None
    resume: Path | None
    recipe: dict[str, Any] | None
    columns: list[dict[str, list]] = field(default_factory=list)  # the rows trained on, as the trainer's columns
    pair_scorer: Any = None
    history: list[dict[str, Any]] | None = None  # the log history, where it spans two trainers (extension)

    @property
    def log_history(self) -> list[dict[str, Any]]:
        return self.history if self.history is not None else self.trainer.state.log_history


def fit_model(model: Any, run: RunData, out: Path, resume: Path | None, strategy: Any, precision: str,
              cache: EmbeddingCache, show_progress: bool) -> Fit:
    """Choose the recipe (or take the settings as given), then train to the end: ``model`` in place, or
    (when the runner-up recipe was continued and won) a fresh copy, returned in ``Fit.model``."""
    config = run.config
    # each set's dev queries over a sample of its corpus: what picks the checkpoint, the recipe, the guard's
    # mix and the rotation
    dev_samples = [sample_corpus(p.dev, config.dev_corpus_size, config.seed) for p in run.sets]
    rows, recipe = [p.train for p in run.sets], None
    fallback = why_not_searched(config, run.sets)
    if config.recipe == "auto" and fallback is None:
        config, rows[0], resume_from, recipe = choose_recipe(
            config, run.first, dev_samples[0], model, out, cache, show_progress, precision,
            fresh_model=lambda c: fresh_model(c, strategy, precision), build_trainer=build_trainer,
            guard=run.guard, guard_score=_guard_scorer(run.guard, config, precision, cache))
        resume = resume or resume_from
    else:
        if config.recipe == "auto":
            logger.info("--recipe auto: no search with %s; the settings are taken as given", fallback)
        rows = [fixed_rows(config, p, model, cache, show_progress) for p in run.sets]
    num_pairs = sum(len(r) for r in rows)
    prepared_columns = [training_columns(r, config, model, cache, show_progress, precision) for r in rows]
    trainer, _ = build_trainer(model, [c for c, _ in prepared_columns], num_pairs, dev_samples, config,
                               out / CHECKPOINTS, show_progress, precision, pair_scorer=prepared_columns[0][1])
    start = time.perf_counter()
    run_training(trainer, resume)
    fit = Fit(model, config, trainer, dev_samples, num_pairs, round(time.perf_counter() - start, 2),
              trainer_best_step(trainer), resume, recipe, [c for c, _ in prepared_columns], prepared_columns[0][1])
    if recipe is not None and stalled(fit.best_step, recipe["checkpoint"]):
        fit = _second_look(fit, recipe, run, out, strategy, precision, cache, show_progress)
    if recipe is not None and config.extend_epochs > 0 and still_rising(fit.trainer):
        fit = _train_on(fit, recipe, out, precision, show_progress)
    return fit


def _train_on(fit: Fit, recipe: dict[str, Any], out: Path, precision: str, show_progress: bool) -> Fit:
    """The extension (``training.extension``): the fit with its weights, history and time where it was kept."""
    extension = extend_run(fit.model, fit.trainer, fit.columns, fit.num_pairs, fit.dev_samples, fit.config, out,
                           show_progress, precision, build_trainer, pair_scorer=fit.pair_scorer)
    recipe["extended"] = extension.account
    seconds = round(fit.train_seconds + extension.account["seconds"], 2)
    history = joined_history(fit.log_history, extension.trainer)
    if not extension.kept:
        return replace(fit, train_seconds=seconds, history=history)
    best = trainer_best_step(extension.trainer)
    return replace(fit, train_seconds=seconds, history=history,
                   best_step=None if best is None else last_step(fit.log_history) + best)


def _second_look(fit: Fit, recipe: dict[str, Any], run: RunData, out: Path, strategy: Any, precision: str,
                 cache: EmbeddingCache, show_progress: bool) -> Fit:
    """Continue the runner-up recipe; the returned fit is its run when its best dev score is higher."""
    chosen = Candidate(**recipe["winner"])
    runner = continue_runner_up(recipe, chosen, run.config, run.first, fit.dev_samples, out, cache,
                                show_progress, precision, lambda c: fresh_model(c, strategy, precision),
                                build_trainer)
    if runner is None:
        return fit
    chosen_best = fit.trainer.state.best_metric
    kept = runner.trainer.state.best_metric > chosen_best
    record(recipe, chosen, chosen_best, runner, kept)
    seconds = round(fit.train_seconds + runner.seconds, 2)
    if not kept:
        return replace(fit, train_seconds=seconds)
    return Fit(runner.model, runner.config, runner.trainer, fit.dev_samples, runner.num_pairs, seconds,
               trainer_best_step(runner.trainer), runner.resume, recipe, runner.columns, runner.pair_scorer)


def _guard_scorer(guard: RetrievalSet | None, config: TrainConfig, precision: str,
                  cache: EmbeddingCache) -> Any:
    """nDCG@10 on the guard-dev half of the guard queries (the half that may choose), or None without a guard."""
    if guard is None:
        return None
    from embedtune.training.guard import split_guard_queries

    dev_ids, _ = split_guard_queries(guard, config.seed)
    guard_dev = guard.restrict_queries(dev_ids, guard.split)

    def score(model: Any) -> float:
        return evaluate_model(model, guard_dev, metrics=("ndcg@10",), backend=training_encoder_backend(precision),
                              cache=cache).metrics["ndcg@10"]

    return score
