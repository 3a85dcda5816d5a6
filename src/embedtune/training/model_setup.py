"""Step 2 of a training run: load the starting model and make it ready to train.

The same preparation serves the run's own model and every fresh copy the recipe search starts a
candidate from, so candidates differ only in their recipe.
"""
from __future__ import annotations

from typing import Any

from embedtune.config import TrainConfig, check_dims_fit
from embedtune.models import display_name, load_model
from embedtune.prompts import set_prompts
from embedtune.training.dropout import apply_training_dropout


def load_starting_model(config: TrainConfig) -> Any:
    """The base model, seeded, its Matryoshka sizes checked and its prompts set.

    Prompts go in before the base is scored, so before and after differ only by training; the sizes
    are checked before the output folder exists, so a corrected rerun needs no --overwrite."""
    from transformers import set_seed

    set_seed(config.seed)  # Python, numpy and torch (all devices)
    model = load_model(config.model, max_seq_length=config.max_seq_length)
    if config.matryoshka_dims and model.get_embedding_dimension():
        check_dims_fit(config.matryoshka_dims, model.get_embedding_dimension(), "matryoshka_dims",
                       display_name(config.model))
    set_prompts(model, config.query_prompt, config.document_prompt)
    return model


def check_model_reads_data(model: Any, sets: list[Any]) -> None:
    """Image data needs an image-text model: say so before the output folder opens, not at the first dev score."""
    from embedtune.errors import ConfigError
    from embedtune.inference.model_parts import reads_images

    if any(p.has_images for p in sets) and not reads_images(model):
        raise ConfigError("the data holds images but the model reads text only; give an image-text model "
                          "(a CLIP-style sentence-transformers model such as clip-ViT-B-32) with --model")


def fresh_model(config: TrainConfig, strategy: Any, precision: str) -> Any:
    """A fresh copy of the starting model made ready to train as the run readies its own."""
    model = load_model(config.model, max_seq_length=config.max_seq_length)
    set_prompts(model, config.query_prompt, config.document_prompt)
    return ready_to_train(model, config, strategy, precision)


def ready_to_train(model: Any, config: TrainConfig, strategy: Any, precision: str) -> Any:
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
