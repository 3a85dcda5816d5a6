"""Set the dropout a model trains with, without touching what it saves.

Why this exists: with attention dropout above zero, PyTorch's scaled-dot-product attention on
CPU cannot use its fused kernel and falls back to the unfused math path, and every hidden-state
dropout draws a random mask per element. On 2 CPU cores that is a large share of a training
step (see bench/results/speed.json). Contrastive fine-tuning on a few thousand pairs may not
need the regularisation, so the rate is a setting, measured on dev and test rather than assumed.

Only the modules' rates change: the saved ``config.json`` keeps the model's own values, so a
user who tunes the exported model again starts from the usual defaults.
"""
from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

# Float attributes some architectures read directly instead of an nn.Dropout's ``p``
# (e.g. Llama/Qwen attention keep ``attention_dropout``).
_RATE_ATTRIBUTES: tuple[str, ...] = ("attention_dropout", "dropout_prob", "dropout_rate")


def set_dropout(model: Any, rate: float) -> int:
    """Set every dropout rate inside ``model`` to ``rate``; returns how many places changed.

    Call it before adapters are added: LoRA's own dropout is a separate setting (lora_dropout).
    """
    import torch

    changed = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = rate
            changed += 1
        for name in _RATE_ATTRIBUTES:
            value = getattr(module, name, None)
            if isinstance(value, float):
                setattr(module, name, rate)
                changed += 1
    logger.info("dropout set to %g in %d places", rate, changed)
    return changed
