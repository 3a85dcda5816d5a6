"""Set the dropout a model trains with, without touching what it saves.

Why this exists: with attention dropout above zero, PyTorch's scaled-dot-product attention on
CPU cannot use its fused kernel and falls back to the unfused math path, which also draws a
random mask over every (head, query, key) score. Hidden-state dropout is far cheaper: one mask
per token and channel. On 2 CPU cores the attention mask is a large share of a training step
(see bench/results/speed_train.json), so the two rates are separate settings: attention dropout
can be switched off for speed while the hidden-state dropout keeps the model's own
regularisation.

Only the modules' rates change: the saved ``config.json`` keeps the model's own values, so a
user who tunes the exported model again starts from the usual defaults.
"""
from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

# Float attributes some architectures read directly instead of an nn.Dropout's ``p``.
# Llama/Qwen attention keeps its probability dropout in ``attention_dropout``.
_ATTENTION_RATE_ATTRIBUTES: tuple[str, ...] = ("attention_dropout",)
_HIDDEN_RATE_ATTRIBUTES: tuple[str, ...] = ("dropout_prob", "dropout_rate")

# A dropout module that sits beside these projections drops attention probabilities
# (BERT/MiniLM ``attention.self.dropout``, MPNet ``attn.dropout``, T5 ``SelfAttention``).
_ATTENTION_PROJECTIONS: tuple[tuple[str, ...], ...] = (
    ("query", "key", "value"), ("q_proj", "k_proj", "v_proj"), ("q", "k", "v"), ("Wqkv",), ("qkv",))


def _computes_attention(module: Any) -> bool:
    return any(all(hasattr(module, name) for name in names) for names in _ATTENTION_PROJECTIONS)


def set_dropout(model: Any, rate: float | None, attention_rate: float | None = None) -> int:
    """Set the dropout rates inside ``model``; returns how many places changed.

    ``rate`` is the hidden-state dropout and, unless ``attention_rate`` is given, the attention
    dropout too; None leaves that kind at the model's own. Call it before adapters are added:
    LoRA's own dropout is a separate setting (lora_dropout).
    """
    import torch

    attention_rate = rate if attention_rate is None else attention_rate
    changed = 0
    for module in model.modules():
        child_rate = attention_rate if _computes_attention(module) else rate
        for child in module.children():
            if isinstance(child, torch.nn.Dropout) and child_rate is not None:
                child.p = child_rate
                changed += 1
        for names, new in ((_ATTENTION_RATE_ATTRIBUTES, attention_rate), (_HIDDEN_RATE_ATTRIBUTES, rate)):
            for name in names:
                if new is not None and isinstance(getattr(module, name, None), float):
                    setattr(module, name, new)
                    changed += 1
    logger.info("dropout set to %s (hidden) and %s (attention) in %d places", rate, attention_rate, changed)
    return changed


def apply_training_dropout(model: Any, config: Any) -> None:
    """Give ``model`` the dropout a TrainConfig asks for (``dropout``, ``attention_dropout``)."""
    if config.dropout is not None or config.attention_dropout is not None:
        set_dropout(model, config.dropout, config.attention_dropout)
