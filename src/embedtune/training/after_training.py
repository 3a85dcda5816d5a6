"""Steps 6 and 7 of a training run, kept together: the forgetting guard, then the Matryoshka rotation.

Both change the trained weights after training and both choose on dev data: the guard mixes the
base and tuned weights back while the general-domain guard set says too much was forgotten
(``guard``); the rotation, fitted after the guard so it fits the weights that are saved, turns the
embedding space so truncated sizes score higher (``rotation``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from embedtune.config import TrainConfig
from embedtune.data.types import RetrievalSet
from embedtune.inference.cache import EmbeddingCache
from embedtune.inference.precision import training_encoder_backend
from embedtune.models import display_name
from embedtune.training.run_data import RunData


@dataclass
class GuardStart:
    """What the guard needs from before training: the base weights and the name of the model they are."""

    state: Any
    base_model: str


def guard_start(model: Any, config: TrainConfig, guard: RetrievalSet | None) -> GuardStart | None:
    """The weights the guard measures forgetting against, taken before any training (None without a guard)."""
    if guard is None:
        return None
    from embedtune.training.guard import guard_base_name, guard_base_state

    name = guard_base_name(config)
    return GuardStart(guard_base_state(model, name, config.model), name)


def after_training(model: Any, run: RunData, config: TrainConfig, start: GuardStart | None,
                   dev_samples: list[RetrievalSet], precision: str, cache: EmbeddingCache,
                   show_progress: bool) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The guard's and the rotation's accounts (each None when off); ``model`` is changed in place."""
    backend = training_encoder_backend(precision)  # as the dev evaluator that picked the checkpoint
    guard = None
    if start is not None and run.guard is not None:
        from embedtune.training.guard import apply_forgetting_guard

        guard = apply_forgetting_guard(
            start.state, model, dev_samples[0], run.guard, threshold=config.guard_threshold,
            alphas=config.guard_alphas, backend=backend, cache=cache, show_progress=show_progress,
            seed=config.seed, base_model=display_name(start.base_model)).to_dict()
    rotation = None
    if config.matryoshka_dims and config.matryoshka_rotation:
        from embedtune.training.rotation import fit_and_add_rotation

        rotation = fit_and_add_rotation(model, [p.train for p in run.sets], dev_samples, config.matryoshka_dims,
                                        backend=backend, seed=config.seed).to_dict()
    return guard, rotation
