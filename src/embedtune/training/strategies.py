"""Training strategies, registered in one place: how each prepares a model and finishes it.

A strategy is up to three functions: ``check`` runs before any data is read and rejects hardware
the strategy cannot use; ``prepare`` turns the loaded base model into the model the trainer
updates; and ``finalize`` turns the trained result into a plain sentence-transformers model that
``SentenceTransformer(path)`` loads (saving any extra artefacts, like an adapter) and returns it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from embedtune.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.config import TrainConfig

logger = logging.getLogger(__name__)


def _runs_anywhere() -> None:
    """Nothing to check: the strategy runs on CPU and GPU alike."""


@dataclass(frozen=True)
class StrategySpec:
    prepare: Callable[[SentenceTransformer, TrainConfig], SentenceTransformer]
    finalize: Callable[[SentenceTransformer, Path, TrainConfig], SentenceTransformer]
    check: Callable[[], None] = _runs_anywhere


def _prepare_full(model: SentenceTransformer, config: TrainConfig) -> SentenceTransformer:
    """Every weight trains, except a tower ``config.freeze`` keeps fixed."""
    if config.freeze:
        frozen = [p for path, p in model.named_parameters() if _in_tower(path, config.freeze)]
        if not frozen:
            raise ConfigError(f"--freeze {config.freeze}: this model has no {config.freeze} tower "
                              "(it applies to image-text models such as CLIP)")
        for parameter in frozen:
            parameter.requires_grad_(False)
        logger.info("--freeze %s: %d of %d parameters stay fixed", config.freeze, sum(p.numel() for p in frozen),
                    sum(p.numel() for p in model.parameters()))
    return model


# How transformers names the towers of CLIP-style models (CLIP, SigLIP, ...): the encoder and its projection.
_TOWER_PREFIXES = {"vision": ("vision_model", "visual_projection", "vision_tower"),
                   "text": ("text_model", "text_projection", "text_tower")}


def _in_tower(path: str, tower: str) -> bool:
    """Whether the parameter or module at ``path`` belongs to ``tower`` of an image-text model."""
    return any(part in _TOWER_PREFIXES[tower] for part in path.split("."))


def _finalize_full(model: SentenceTransformer, out: Path, config: TrainConfig) -> SentenceTransformer:
    """The trained model is already a plain model."""
    return model


def _prepare_lora(model: SentenceTransformer, config: TrainConfig) -> SentenceTransformer:
    from peft import LoraConfig, TaskType

    from embedtune.training.lora_targets import resolve_lora_targets

    targets = resolve_lora_targets(model.transformers_model, list(config.lora_target_modules) or None)
    excluded = list(targets.exclude_modules)
    if config.freeze:  # no adapters in the fixed tower: exclude its layers by full path
        tower = [path for path, _ in model.transformers_model.named_modules()
                 if path and _in_tower(path, config.freeze)]
        if not tower:
            raise ConfigError(f"--freeze {config.freeze}: this model has no {config.freeze} tower "
                              "(it applies to image-text models such as CLIP)")
        excluded += tower
    lora = LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=targets.target_modules,
                      exclude_modules=excluded or None)
    try:
        model.add_adapter(lora)
    except ValueError as exc:
        raise ConfigError(f"cannot add LoRA adapters to this model: {str(exc).splitlines()[0]} "
                          "(check lora_target_modules against the model's layer names)") from None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("LoRA r=%d on %s%s: %d of %d parameters train (%.2f%%)", config.lora_r, targets.describe(),
                f" (none in the fixed {config.freeze} tower)" if config.freeze else "", trainable, total,
                100 * trainable / total)
    return model


def _finalize_lora(model: SentenceTransformer, out: Path, config: TrainConfig) -> SentenceTransformer:
    """Save the adapter on its own, then merge it so the main output needs no peft."""
    _save_adapter(model, out, config)
    merge_lora(model)
    return model


def _save_adapter(model: SentenceTransformer, out: Path, config: TrainConfig) -> Path:
    from embedtune.models import display_name

    adapter_dir = out / "adapter"
    model.transformers_model.save_pretrained(str(adapter_dir))
    _point_adapter_at(adapter_dir, display_name(config.model))
    return adapter_dir


def _point_adapter_at(adapter_dir: Path, base_name: str) -> None:
    """peft records the base model's absolute local path; record the portable name instead."""
    import json

    from embedtune._io import write_json_atomic

    config_path = adapter_dir / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base_name
    write_json_atomic(config_path, config)


def keep_adapter_inputs_in_compute_dtype(model: SentenceTransformer) -> int:
    """Stop peft casting each adapter's input to its fp32 weights; returns how many layers.

    Under bf16/fp16 autocast peft would copy every LoRA layer's whole input activation to fp32,
    only for autocast to copy it back to bf16 for the matmul: on CPU those copies were a fifth of
    a LoRA training step (torch.profiler, batch 32, length 256). Autocast already gives the
    adapter's matmuls one dtype, so the cast only costs time. Call it only for autocast runs: in
    fp32 the cast is a no-op anyway, and a 4-bit base outside autocast needs it.
    """
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in model.modules() if isinstance(m, BaseTunerLayer)]
    for layer in layers:
        layer.cast_input_dtype_enabled = False
    return len(layers)


def merge_lora(model: SentenceTransformer) -> int:
    """Fold every LoRA layer into its base weights in place; returns how many were merged."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    from embedtune.compat import forget_peft_config

    backbone = model.transformers_model
    merged = 0
    for name, module in list(backbone.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(backbone.get_submodule(parent_name) if parent_name else backbone, child, module.get_base_layer())
            merged += 1
    forget_peft_config(backbone)
    return merged


def _check_qlora() -> None:
    """QLoRA's 4-bit layers are bitsandbytes CUDA kernels: refuse before any data is read."""
    import torch

    from embedtune._optional import require

    if not torch.cuda.is_available():
        raise ConfigError("qlora needs a CUDA GPU and bitsandbytes (found: no CUDA device); "
                          "use --strategy lora on CPU")
    require("bitsandbytes", "qlora", "--strategy qlora", alternative="use --strategy lora")


def _prepare_qlora(model: SentenceTransformer, config: TrainConfig) -> SentenceTransformer:
    """Reload the base in 4-bit NF4 (double quantisation) and train LoRA adapters on it (QLoRA).

    The full-precision ``model`` has served for the "before" score; the 4-bit copy replaces it
    for training and gets its prompts and the training dropout.
    Not yet run on a GPU: written against transformers 5.23 / peft 0.21 / sentence-transformers
    6.2, and only its refusal on CPU is tested.
    """
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    from embedtune.models import load_model
    from embedtune.prompts import copy_prompts
    from embedtune.training.dropout import apply_training_dropout

    quantization = BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    model.cpu()  # its GPU memory is needed for the 4-bit copy
    torch.cuda.empty_cache()
    device = torch.cuda.current_device()
    quantized = load_model(config.model, device=f"cuda:{device}", max_seq_length=config.max_seq_length,
                           model_kwargs={"quantization_config": quantization, "device_map": {"": device}})
    copy_prompts(model, quantized)
    apply_training_dropout(quantized, config)
    # Casts the unquantised layers (norms, embeddings) to fp32 and freezes the base; gradient
    # checkpointing stays off, as in the other strategies.
    prepare_model_for_kbit_training(quantized.transformers_model, use_gradient_checkpointing=False)
    return _prepare_lora(quantized, config)


def _finalize_qlora(model: SentenceTransformer, out: Path, config: TrainConfig) -> SentenceTransformer:
    """Save the adapter, then merge it into the base loaded again in full precision.

    Merging into the 4-bit weights would re-quantise the sum and leave a model that needs
    bitsandbytes to load; the saved model is a plain full-precision one instead. Not yet run on a GPU.
    """
    from embedtune.models import load_model
    from embedtune.prompts import copy_prompts

    adapter_dir = _save_adapter(model, out, config)
    merged = load_model(config.model, device=str(model.device), max_seq_length=config.max_seq_length)
    copy_prompts(model, merged)
    merged.load_adapter(str(adapter_dir))
    merge_lora(merged)
    return merged


STRATEGIES: dict[str, StrategySpec] = {
    "full": StrategySpec(_prepare_full, _finalize_full),
    "lora": StrategySpec(_prepare_lora, _finalize_lora),
    "qlora": StrategySpec(_prepare_qlora, _finalize_qlora, check=_check_qlora),
}
