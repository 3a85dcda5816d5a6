"""The sentence-transformers Trainer a training run uses: arguments, loss, dev evaluator and callbacks.

Shared by the final run and ``--recipe auto``'s candidate runs (``embedtune.training.probes``), so a
candidate's first epoch is exactly the first epoch of the run it stands for.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune.config import TrainConfig
from embedtune.data.types import RetrievalSet
from embedtune.inference.precision import training_encoder_backend
from embedtune.prompts import column_prompts
from embedtune.training.checkpointing import CheckpointCallback
from embedtune.training.distributed import world_size

if TYPE_CHECKING:
    from embedtune.training.hybrid_teacher import PairScorer

logger = logging.getLogger(__name__)


def build_trainer(model: Any, columns: list[dict[str, list]], num_rows: int, devs: list[RetrievalSet],
                   config: TrainConfig, checkpoints: Path, show_progress: bool, precision: str,
                   pair_scorer: PairScorer | None = None) -> tuple[Any, Any]:
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from embedtune.training.dev_evaluator import DevRetrievalEvaluator
    from embedtune.training.progress_log import progress_callbacks
    from embedtune.training.losses import build_loss

    cuda = model.device.type == "cuda"
    logger.info("training in %s%s", precision, "" if precision == "fp32" else " autocast (fp32 master weights)")
    distributed = world_size() > 1
    evaluator = DevRetrievalEvaluator(devs[0] if len(devs) == 1 else devs,
                                      backend=training_encoder_backend(precision), dims=config.selection_dims)
    # the prompts encode_query / encode_document will use, for every column any data set has
    prompts = column_prompts(model, list(dict.fromkeys(c for cs in columns for c in cs)))
    if prompts:
        logger.info("training with prompts %s", prompts)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        prompts=prompts or None,
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.resolved_learning_rate,
        warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay,
        seed=config.seed,
        data_seed=config.seed,
        batch_sampler="no_duplicates",  # a repeated text in a batch would be a false in-batch negative
        multi_dataset_batch_sampler=config.sampling,  # each batch from one data set, so its columns match
        eval_strategy="steps", save_strategy="steps", save_total_limit=2, eval_steps=1, save_steps=1,  # set below
        load_best_model_at_end=True, greater_is_better=True,
        metric_for_best_model=evaluator.best_model_metric,
        logging_steps=max(1, min(10, num_rows // config.batch_size // 4)),
        report_to=[], disable_tqdm=not show_progress,
        use_cpu=not cuda, bf16=precision == "bf16", fp16=precision == "fp16",  # fp16: with loss scaling
        **_checkpointing_arguments(config.gradient_checkpointing),
        dataloader_pin_memory=cuda,
        ddp_backend=None if cuda or not distributed else "gloo",
    )
    trainer = SentenceTransformerTrainer(
        model=model, args=args,
        train_dataset=training_dataset(columns[0]) if len(columns) == 1 else
        {f"data{i}": training_dataset(c) for i, c in enumerate(columns)},
        # Under torchrun/accelerate each process's queries also see the other processes' documents
        # as negatives, so N processes train like one batch of N × batch_size.
        loss=build_loss(model, config, distributed, pair_scorer=pair_scorer), evaluator=evaluator,
    )
    # Evaluate (and checkpoint) evals_per_epoch times per epoch, counted on the real batches: the
    # no-duplicates sampler can yield fewer batches than len(pairs) / batch_size.
    steps_per_epoch = len(trainer.get_train_dataloader())
    trainer.args.eval_steps = trainer.args.save_steps = max(1, math.ceil(steps_per_epoch / config.evals_per_epoch))
    # Trainer prints every log dict to stdout when bars are off; stdout belongs to results (--json).
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(CheckpointCallback(config.save_every_minutes))
    for callback in progress_callbacks(show_progress):  # no bar off a terminal: a progress log line instead
        trainer.add_callback(callback)
    return trainer, evaluator


def training_dataset(columns: dict[str, list]) -> Any:
    """The trainer's dataset; a column of image references becomes an image column (decoded as batches are
    drawn), so sentence-transformers sends it through the model's image processor."""
    from datasets import Dataset, Image

    from embedtune.data.images import has_images, image_path, is_image_ref
    from embedtune.errors import ConfigError

    image_columns = [name for name, values in columns.items() if has_images(values)]
    for name in image_columns:
        if not all(is_image_ref(v) for v in columns[name]):
            raise ConfigError(f'training column "{name}" mixes images and texts; a column must hold one kind')
    dataset = Dataset.from_dict({name: [str(image_path(v)) for v in values] if name in image_columns else values
                                 for name, values in columns.items()})
    for name in image_columns:
        dataset = dataset.cast_column(name, Image(mode="RGB"))
    return dataset


def _checkpointing_arguments(enabled: bool) -> dict[str, Any]:
    """Trainer arguments that turn activation (gradient) checkpointing on: transformers 5.23 renamed
    ``gradient_checkpointing`` to ``activation_checkpointing`` and no longer reads the old name."""
    if not enabled:
        return {}
    from dataclasses import fields

    from sentence_transformers import SentenceTransformerTrainingArguments

    names = {f.name for f in fields(SentenceTransformerTrainingArguments)}
    prefix = "activation" if "activation_checkpointing" in names else "gradient"
    return {f"{prefix}_checkpointing": True, f"{prefix}_checkpointing_kwargs": {"use_reentrant": False}}


def best_step(trainer: Any) -> int | None:
    checkpoint = trainer.state.best_model_checkpoint
    return int(str(checkpoint).rsplit("-", 1)[-1]) if checkpoint else None
