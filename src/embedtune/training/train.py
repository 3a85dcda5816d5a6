"""``train_model``: contrastive fine-tuning with dev-based checkpoint choice and resume."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune import __version__
from embedtune._writable import check_writable
from embedtune.config import TrainConfig, check_dims_fit
from embedtune.data.types import RetrievalSet, TrainingPairs
from embedtune.errors import ConfigError
from embedtune.inference.cache import EmbeddingCache
from embedtune.evaluation.evaluate import evaluate_bm25, evaluate_model, sample_corpus
from embedtune.evaluation.report import EvalReport
from embedtune.evaluation.report_html import TOP_DOCUMENTS, build_facts, write_report
from embedtune.inference.precision import resolve_precision, training_encoder_backend
from embedtune.loss_registry import loss_spec
from embedtune.models import display_name, load_model, resolve_model
from embedtune.prompts import set_prompts
from embedtune.training.data_prep import prepare_data
from embedtune.training.losses import training_columns
from embedtune.training.model_card import write_model_card
from embedtune.training.checkpointing import run_training
from embedtune.training.dropout import apply_training_dropout
from embedtune.training.distributed import fit_batch_to_rows, is_main_process, wait_for_everyone, world_size
from embedtune.training.output_dir import (CHECKPOINTS, finish, latest_checkpoint, open_output_dir, precheck_output_dir,
                                          publish_model)
from embedtune.training.probes import choose_recipe, fixed_rows, why_not_searched
from embedtune.training.strategies import STRATEGIES
from embedtune.training.trainer_setup import best_step as trainer_best_step
from embedtune.training.trainer_setup import build_trainer

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced and how it scored."""

    model_dir: str
    config: dict[str, Any]
    data: str
    before: dict[str, float] | None
    after: dict[str, float] | None
    heldout_split: str | None
    dev_history: list[dict[str, Any]] = field(default_factory=list)
    loss_history: list[dict[str, float]] = field(default_factory=list)
    best_step: int | None = None
    train_seconds: float = 0.0
    resumed_from: str | None = None
    num_train_pairs: int = 0
    precision: str = "fp32"  # what config.precision resolved to on this hardware
    num_processes: int = 1  # > 1 under torchrun / accelerate: in-batch negatives were gathered across them
    guard: dict[str, Any] | None = None  # the forgetting guard's scores and choice (GuardResult.to_dict), if on
    # Matryoshka runs: the rotation's dev curve and whether it was kept (RotationChoice.to_dict)
    matryoshka_rotation: dict[str, Any] | None = None
    # --recipe auto: the candidates' dev scores and spreads, the choice and its rule (recipe.RecipeChoice)
    recipe: dict[str, Any] | None = None
    # several --data: each set's description, pair count and held-out scores (before/after above are the first's)
    datasets: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"embedtune_version": __version__, **self.__dict__}


TrainData = str | Path | RetrievalSet | TrainingPairs


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
    out = Path(out)
    cache = cache or EmbeddingCache()
    strategy = STRATEGIES[config.strategy]
    strategy.check()  # hardware the strategy needs, before any data is read
    if is_main_process():
        precheck_output_dir(out, overwrite=overwrite)
        check_writable(out)
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
    prepared = sets[0]  # the guard and the before/after scores use the first set
    for p in sets if loss.check_rows else []:
        loss.check_rows(p.train)
    config = fit_batch_to_rows(config, min(len(p.train) for p in sets), world_size())
    guard_set = _load_guard(config)  # before the model loads and the output folder exists
    _seed_everything(config.seed)
    model = load_model(config.model, max_seq_length=config.max_seq_length)
    if config.matryoshka_dims and model.get_embedding_dimension():
        # before the output folder exists, so a corrected rerun needs no --overwrite
        check_dims_fit(config.matryoshka_dims, model.get_embedding_dimension(), "matryoshka_dims",
                       display_name(config.model))
    # Prompts go in before the base is scored, so before and after differ only by training.
    set_prompts(model, config.query_prompt, config.document_prompt)
    base_state, guard_base = None, None
    if guard_set is not None and is_main_process():
        from embedtune.training.guard import guard_base_name, guard_base_state

        guard_base = guard_base_name(config)
        base_state = guard_base_state(model, guard_base, config.model)  # taken before any training

    settings = {**config.to_dict(), "data": [_data_name(d, p) for d, p in zip(sources, sets)] if len(sets) > 1
                else _data_name(sources[0], prepared)}
    main = is_main_process()
    resume = open_output_dir(out, settings, overwrite=overwrite, defaults=type(config)().to_dict()) if main else None
    wait_for_everyone()
    if not main:
        resume = latest_checkpoint(out)

    dims = config.matryoshka_dims or None
    base_reports = [_score(model, p.heldout, cache, show_progress, "base model", dims) if main else None
                    for p in sets]
    base_report = base_reports[0]
    befores = [r.metrics if r else None for r in base_reports]
    precision = resolve_precision(config.precision, model.device.type)
    model = _ready_to_train(model, config, strategy, precision)
    description = "; ".join(p.description for p in sets)
    # each set's dev queries over a sample of its corpus: what picks the checkpoint, the recipe, the guard's
    # mix and the rotation
    dev_samples = [sample_corpus(p.dev, config.dev_corpus_size, config.seed) for p in sets]
    rows, recipe = [p.train for p in sets], None
    fallback = why_not_searched(config, sets)
    if config.recipe == "auto" and fallback is None:
        config, rows[0], resume_from, recipe = choose_recipe(
            config, prepared, dev_samples[0], model, out, cache, show_progress, precision,
            fresh_model=lambda c: _prepared_model(c, strategy, precision), build_trainer=build_trainer,
            guard=guard_set, guard_score=_guard_scorer(guard_set, config, precision, cache))
        resume = resume or resume_from
    else:
        if config.recipe == "auto":
            logger.info("--recipe auto: no search with %s; the settings are taken as given", fallback)
        rows = [fixed_rows(config, p, model, cache, show_progress) for p in sets]
    num_pairs = sum(len(r) for r in rows)
    prepared_columns = [training_columns(r, config, model, cache, show_progress, precision) for r in rows]
    columns = [c for c, _ in prepared_columns]
    trainer, evaluator = build_trainer(model, columns, num_pairs, dev_samples, config,
                                        out / CHECKPOINTS, show_progress, precision,
                                        pair_scorer=prepared_columns[0][1])
    start = time.perf_counter()
    run_training(trainer, resume)
    train_seconds = time.perf_counter() - start
    best_step = trainer_best_step(trainer)
    if not main:  # the main process holds the same weights and publishes them
        return TrainResult(model_dir=str(out), config=config.to_dict(), data=description, before=None,
                           after=None, heldout_split=None, best_step=best_step,
                           train_seconds=round(train_seconds, 2), num_train_pairs=num_pairs,
                           precision=precision, num_processes=world_size())

    model = strategy.finalize(model, out, config)
    guard = None
    if guard_set is not None:
        from embedtune.training.guard import apply_forgetting_guard

        guard = apply_forgetting_guard(
            base_state, model, dev_samples[0], guard_set,
            threshold=config.guard_threshold, alphas=config.guard_alphas,
            backend=training_encoder_backend(precision),  # as the dev evaluator that picked the checkpoint
            cache=cache, show_progress=show_progress, seed=config.seed,
            base_model=display_name(guard_base)).to_dict()
    rotation = None
    if config.matryoshka_dims and config.matryoshka_rotation:
        from embedtune.training.rotation import fit_and_add_rotation

        # after the guard, so the rotation is fitted to the weights that are saved
        rotation = fit_and_add_rotation(
            model, [p.train for p in sets], dev_samples, config.matryoshka_dims,
            backend=training_encoder_backend(precision), seed=config.seed).to_dict()
    tuned_reports = [_score(model, p.heldout, cache, show_progress, "tuned model", dims) for p in sets]
    tuned_report = tuned_reports[0]
    afters = [r.metrics if r else None for r in tuned_reports]
    publish_model(model, out)
    result = TrainResult(
        model_dir=str(out), config=config.to_dict(), data=description, before=befores[0], after=afters[0],
        heldout_split=prepared.heldout.split if prepared.heldout else None,
        dev_history=[e for e in trainer.state.log_history if "eval_dev_ndcg@10" in e],
        loss_history=[{"step": e["step"], "loss": e["loss"]} for e in trainer.state.log_history if "loss" in e],
        best_step=best_step, train_seconds=round(train_seconds, 2),
        resumed_from=resume.name if resume else None, num_train_pairs=num_pairs,
        precision=precision, num_processes=world_size(), guard=guard, matryoshka_rotation=rotation, recipe=recipe,
        datasets=[{"data": p.description, "train_pairs": len(p.train), "dev_queries": len(p.dev.queries),
                   "heldout_split": p.heldout.split if p.heldout else None, "before": b, "after": a}
                  for p, b, a in zip(sets, befores, afters)] if len(sets) > 1 else None,
    )
    facts = _report_facts(result, base_report, tuned_report, prepared.heldout, display_name(config.model))
    write_model_card(out, result, base_model=display_name(config.model), base_path=resolve_model(config.model),
                     facts=facts)
    write_report(out, facts)
    finish(out, result.to_dict())
    return result


def _prepared_model(config: TrainConfig, strategy: Any, precision: str) -> Any:
    """A fresh copy of the starting model made ready to train as ``train_model`` readies its own."""
    model = load_model(config.model, max_seq_length=config.max_seq_length)
    set_prompts(model, config.query_prompt, config.document_prompt)
    return _ready_to_train(model, config, strategy, precision)


def _ready_to_train(model: Any, config: TrainConfig, strategy: Any, precision: str) -> Any:
    """Training dropout, EOS for last-token pooling, the strategy's wrapping (LoRA, ...) and, under
    autocast, adapter inputs in its dtype."""
    from embedtune.last_token import append_eos_for_last_token

    apply_training_dropout(model, config)
    append_eos_for_last_token(model)
    model = strategy.prepare(model, config)
    if precision != "fp32" and config.strategy in ("lora", "qlora"):
        from embedtune.training.strategies import keep_adapter_inputs_in_compute_dtype

        keep_adapter_inputs_in_compute_dtype(model)
    return model


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


def _seed_everything(seed: int) -> None:
    from transformers import set_seed

    set_seed(seed)  # Python, numpy and torch (all devices)


def _score(model: Any, heldout: RetrievalSet | None, cache: EmbeddingCache, show_progress: bool,
           label: str, dims: list[int] | None) -> EvalReport | None:
    if heldout is None:
        return None
    logger.info("scoring the %s on %s split %s", label, heldout.source, heldout.split)
    # the top documents and sizes feed the report's per-query moves and its size plot
    return evaluate_model(model, heldout, cache=cache, show_progress=show_progress, dims=dims,
                          keep_top=TOP_DOCUMENTS)


def _report_facts(result: TrainResult, base_report: EvalReport | None, tuned_report: EvalReport | None,
                  heldout: RetrievalSet | None, base_model: str) -> dict[str, Any]:
    """What report.html and the model card show: held-out scores, BM25 on the same split, curves, guard."""
    bm25 = evaluate_bm25(heldout, metrics=list(tuned_report.metrics)) if heldout and tuned_report else None
    return build_facts(model=result.model_dir, base_model=base_model, base=base_report, tuned=tuned_report,
                       data=heldout, bm25=bm25, training=result.to_dict(), guard=result.guard, kind="train")


def _data_name(data: TrainData, prepared: Any) -> str:
    return str(data) if isinstance(data, (str, Path)) else prepared.description
