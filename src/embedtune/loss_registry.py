"""One object per training loss: what it needs, what it checks, how it is built, registered in one place.

A loss is more than its ``torch.nn.Module``: it decides which columns the trainer gets (texts, or
texts plus a teacher's labels), whether it needs a teacher or hard negatives, whether Matryoshka
can wrap it, whether the recipe search may add mined negatives to its rows. Kept together in a
``LossSpec``, adding a loss means writing its file and registering it; nothing else changes.

This module sits at the bottom of the package stack (settings validation reads it), so it imports
nothing of embedtune's. The built-in losses live in ``embedtune.training.losses`` and register
themselves when that package is imported; ``loss_spec`` imports it on first use (the way plugin
registries load their entry points), so a setting can be checked before torch is loaded.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from embedtune.errors import ConfigError

BUILTIN_LOSSES = "embedtune.training.losses"

# (rows, config, student model, embedding cache, show_progress, training precision) -> (columns, extra):
# the trainer's columns, and anything the builder needs that only the columns step makes (a teacher).
ColumnsFn = Callable[[Any, Any, Any, Any, bool, str], tuple[dict[str, list], Any]]
# (model, config, distributed, extra from the columns step) -> the sentence-transformers loss module
BuildFn = Callable[[Any, Any, bool, Any], Any]


@dataclass(frozen=True)
class LossSpec:
    """A training loss: its name and help, its needs, its checks and its builder."""

    name: str
    summary: str  # one clause for --help: what it does ("" for the default loss)
    build: BuildFn
    columns: ColumnsFn | None = None  # None: the rows' text columns as they are
    teacher: str | None = None  # what a --teacher gives it ("its score margins"...); None: needs none
    teacher_examples: str = "all-mpnet-base-v2 or a cross-encoder"  # named when the teacher is missing
    needs_negatives: bool = False  # rows without hard negatives cannot train it
    in_batch: bool = False  # other rows' positives are negatives: the recipe search may add mined ones
    matryoshka: bool = False  # MatryoshkaLoss can wrap it
    several_datasets: bool = True  # can train on several --data sets in one run
    check_settings: Callable[[Any], None] | None = None  # more checks of a TrainConfig, at construction
    check_rows: Callable[[Any], None] | None = None  # checks of the training rows, before the output opens

    def validate(self, config: Any) -> None:
        """The settings checks every loss gets from its declaration, then its own."""
        if self.teacher and not config.teacher:
            raise ConfigError(f"loss {self.name} distils a teacher model: set teacher (--teacher), "
                              f"e.g. {self.teacher_examples}")
        if config.matryoshka_dims and not self.matryoshka:
            wrappable = ", ".join(s.name for s in _specs().values() if s.matryoshka)
            raise ConfigError(f"matryoshka_dims works with the contrastive losses ({wrappable}), not {self.name}")
        if self.check_settings is not None:
            self.check_settings(config)


_REGISTRY: dict[str, LossSpec] = {}
_builtins_loaded = False


def register_loss(spec: LossSpec, *, replace: bool = False) -> LossSpec:
    """Make ``spec`` a ``loss`` setting; a second loss of the same name is refused unless ``replace``."""
    _specs()  # the built-ins first, so they keep their places in the choices
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"a loss named {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_loss(name: str) -> None:
    """Remove a registered loss (a test's toy loss, a plugin being reloaded)."""
    _REGISTRY.pop(name, None)


def loss_spec(name: str) -> LossSpec:
    """The registered loss ``name``; an unknown name is a one-line error listing the choices."""
    specs = _specs()
    if name not in specs:
        raise ConfigError(f'unknown loss "{name}" (choose one of: {", ".join(specs)})')
    return specs[name]


def loss_names() -> tuple[str, ...]:
    """Every registered loss, built-ins first, in registration order."""
    return tuple(_specs())


def loss_help() -> str:
    """The ``--loss`` help: each loss with its summary."""
    return "; ".join(f"{s.name}: {s.summary}" if s.summary else s.name for s in _specs().values())


def _specs() -> dict[str, LossSpec]:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        importlib.import_module(BUILTIN_LOSSES)
    return _REGISTRY
