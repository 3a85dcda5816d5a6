"""Contrastive fine-tuning: strategies, dev-based checkpoint choice, resume."""
from __future__ import annotations

from embedtune.training.train import TrainResult, train_model

__all__ = ["TrainResult", "train_model"]
