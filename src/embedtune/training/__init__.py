"""Contrastive fine-tuning: strategies, dev-based checkpoint choice, resume.

``train_model`` (torch, sentence-transformers) is imported on first use, so that light modules of
this package (``output_dir``, and ``pretrain`` until it trains) load in milliseconds and a command
can reject bad input before paying seconds for torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from embedtune.training.train import TrainResult, train_model

__all__ = ["TrainResult", "train_model"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from embedtune.training import train

        return getattr(train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
