"""The last step of a training run: save the model where the user asked, with its account, card and report.

The model folder becomes complete in one move (``publish_model``); ``embedtune_train.json`` is
written last (``finish``), so its presence means the run finished.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from embedtune.evaluation.report import EvalReport
from embedtune.evaluation.report_html import write_report
from embedtune.models import display_name, resolve_model
from embedtune.training.distributed import world_size
from embedtune.training.fit import Fit
from embedtune.training.heldout import report_facts
from embedtune.training.model_card import write_model_card
from embedtune.training.output_dir import finish, publish_model
from embedtune.training.result import TrainResult
from embedtune.training.run_data import RunData, dataset_summaries


def publish_run(model: Any, out: Path, run: RunData, fit: Fit, precision: str,
                base_reports: list[EvalReport | None], tuned_reports: list[EvalReport | None],
                guard: dict[str, Any] | None, rotation: dict[str, Any] | None) -> TrainResult:
    """Save ``model`` in ``out`` with ``embedtune_train.json``, the model card and report.html."""
    publish_model(model, out)
    befores = [r.metrics if r else None for r in base_reports]
    afters = [r.metrics if r else None for r in tuned_reports]
    history = fit.log_history
    result = TrainResult(
        model_dir=str(out), config=fit.config.to_dict(), data=run.description, before=befores[0], after=afters[0],
        heldout_split=run.first.heldout.split if run.first.heldout else None,
        dev_history=[e for e in history if "eval_dev_ndcg@10" in e],
        loss_history=[{"step": e["step"], "loss": e["loss"]} for e in history if "loss" in e],
        best_step=fit.best_step, train_seconds=fit.train_seconds,
        resumed_from=fit.resume.name if fit.resume else None, num_train_pairs=fit.num_pairs,
        precision=precision, num_processes=world_size(), guard=guard, matryoshka_rotation=rotation,
        recipe=fit.recipe, datasets=dataset_summaries(run, befores, afters),
    )
    base_model = display_name(fit.config.model)
    facts = report_facts(result, base_reports[0], tuned_reports[0], run.first.heldout, base_model)
    write_model_card(out, result, base_model=base_model, base_path=resolve_model(fit.config.model), facts=facts)
    write_report(out, facts)
    finish(out, result.to_dict())
    return result


def worker_result(out: Path, run: RunData, fit: Fit, precision: str) -> TrainResult:
    """What a non-main process of a torchrun job returns: the main process holds the same weights and publishes."""
    return TrainResult(model_dir=str(out), config=fit.config.to_dict(), data=run.description, before=None,
                       after=None, heldout_split=None, best_step=fit.best_step, train_seconds=fit.train_seconds,
                       num_train_pairs=fit.num_pairs, precision=precision, num_processes=world_size())
