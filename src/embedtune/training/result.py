"""``TrainResult``: what a training run produced and how it scored (saved as ``embedtune_train.json``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from embedtune import __version__


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
