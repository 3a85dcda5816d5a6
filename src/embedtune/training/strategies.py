"""Training strategies, registered in one place: how each prepares a model and finishes it.

A strategy is a pair of functions: ``prepare`` turns the loaded base model into the thing the
trainer updates, and ``finalize`` turns the trained result into a plain sentence-transformers
model that ``SentenceTransformer(path)`` loads (saving any extra artefacts, like an adapter).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from embedtune.config import TrainConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrategySpec:
    prepare: Callable[[SentenceTransformer, TrainConfig], None]
    finalize: Callable[[SentenceTransformer, Path, str], None]


def _prepare_full(model: SentenceTransformer, config: TrainConfig) -> None:
    """Every weight trains; nothing to set up."""


def _finalize_full(model: SentenceTransformer, out: Path, base_name: str) -> None:
    """The trained model is already a plain model."""


def _prepare_lora(model: SentenceTransformer, config: TrainConfig) -> None:
    from peft import LoraConfig, TaskType

    lora = LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=list(config.lora_target_modules))
    try:
        model.add_adapter(lora)
    except ValueError as exc:
        from embedtune.errors import ConfigError

        raise ConfigError(f"cannot add LoRA adapters to this model: {str(exc).splitlines()[0]} "
                          "(check lora_target_modules against the model's layer names)") from None
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("LoRA r=%d on %s: %d of %d parameters train (%.2f%%)", config.lora_r,
                ",".join(config.lora_target_modules), trainable, total, 100 * trainable / total)


def _finalize_lora(model: SentenceTransformer, out: Path, base_name: str) -> None:
    """Save the adapter on its own, then merge it so the main output needs no peft."""
    adapter_dir = out / "adapter"
    model.transformers_model.save_pretrained(str(adapter_dir))
    _point_adapter_at(adapter_dir, base_name)
    merge_lora(model)


def _point_adapter_at(adapter_dir: Path, base_name: str) -> None:
    """peft records the base model's absolute local path; record the portable name instead."""
    import json

    from embedtune._io import write_json_atomic

    config_path = adapter_dir / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = base_name
    write_json_atomic(config_path, config)


def merge_lora(model: SentenceTransformer) -> int:
    """Fold every LoRA layer into its base weights in place; returns how many were merged."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    backbone = model.transformers_model
    merged = 0
    for name, module in list(backbone.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            setattr(backbone.get_submodule(parent_name) if parent_name else backbone, child, module.get_base_layer())
            merged += 1
    backbone._hf_peft_config_loaded = False
    if hasattr(backbone, "peft_config"):
        del backbone.peft_config
    return merged


STRATEGIES: dict[str, StrategySpec] = {
    "full": StrategySpec(_prepare_full, _finalize_full),
    "lora": StrategySpec(_prepare_lora, _finalize_lora),
}
