"""``train_model``: fine-tune a model on the user's data, as a short pipeline of named steps.

prepare data (``run_data``) -> load the model (``model_setup``) -> open the output folder and score
the base (``heldout``) -> train, the recipe chosen on dev (``fit``) -> finalize the strategy (merge
LoRA) -> guard and rotation (``after_training``) -> score the tuned model -> publish (``publishing``).
"""
from __future__ import annotations

import logging
from pathlib import Path

from embedtune._writable import check_writable
from embedtune.config import TrainConfig
from embedtune.inference.cache import EmbeddingCache
from embedtune.inference.precision import resolve_precision
from embedtune.training.after_training import after_training, guard_start
from embedtune.training.distributed import is_main_process, wait_for_everyone
from embedtune.training.heldout import score_heldout
from embedtune.training.model_setup import check_model_reads_data, load_starting_model, ready_to_train
from embedtune.training.output_dir import latest_checkpoint, open_output_dir, precheck_output_dir
from embedtune.training.result import TrainResult
from embedtune.training.run_data import TrainData, prepare_run_data
from embedtune.training.strategies import STRATEGIES

__all__ = ["TrainData", "TrainResult", "train_model"]

logger = logging.getLogger(__name__)


def train_model(data: TrainData | list[TrainData], out: str | Path,
                config: TrainConfig | None = None, *, overwrite: bool = False, show_progress: bool = True,
                cache: EmbeddingCache | None = None) -> TrainResult:
    """Fine-tune ``config.model`` on ``data`` and save a standard sentence-transformers model in ``out``.

    The dev split (carved from the training labels) picks the checkpoint; the held-out split is
    only scored, before and after. Rerunning the same call after an interruption resumes from
    the last checkpoint in ``out``. With ``config.guard_data`` the forgetting guard runs after
    training (see ``embedtune.training.guard``) and may save a mix of the base and tuned weights.

    A list of several data sets trains on all of them in one run (multi-task): each batch comes
    from one set, drawn as ``config.sampling`` says; each set gets its own dev split, and the
    mean of their dev nDCG@10 picks the checkpoint.
    """
    config = config or TrainConfig()
    out, cache = Path(out), cache or EmbeddingCache()
    main = is_main_process()
    strategy = STRATEGIES[config.strategy]
    strategy.check()  # hardware the strategy needs, before any data is read
    if main:
        precheck_output_dir(out, overwrite=overwrite)
        check_writable(out)
    run = prepare_run_data(data, config)
    config = run.config
    # These import PyTorch and transformers (seconds): only once the inputs have passed their checks,
    # so a mistake in the data is reported in well under a second.
    from embedtune.training import publishing
    from embedtune.training.fit import fit_model

    model = load_starting_model(config)
    check_model_reads_data(model, run.sets)
    guard = guard_start(model, config, run.guard) if main else None  # the base weights, before any training

    settings = {**config.to_dict(), "data": run.names()}
    resume = open_output_dir(out, settings, overwrite=overwrite, defaults=type(config)().to_dict()) if main else None
    wait_for_everyone()
    if not main:
        resume = latest_checkpoint(out)
    dims = config.matryoshka_dims or None
    base_reports = [score_heldout(model, p.heldout, cache, show_progress, "base model", dims) if main else None
                    for p in run.sets]

    precision = resolve_precision(config.precision, model.device.type)
    model = ready_to_train(model, config, strategy, precision)
    fit = fit_model(model, run, out, resume, strategy, precision, cache, show_progress)
    if not main:
        return publishing.worker_result(out, run, fit, precision)

    model = strategy.finalize(fit.model, out, fit.config)
    guard_account, rotation = after_training(model, run, fit.config, guard, fit.dev_samples, precision, cache,
                                             show_progress)
    tuned_reports = [score_heldout(model, p.heldout, cache, show_progress, "tuned model", dims) for p in run.sets]
    return publishing.publish_run(model, out, run, fit, precision, base_reports, tuned_reports, guard_account, rotation)
