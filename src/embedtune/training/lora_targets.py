"""Which layers of a loaded model get LoRA adapters.

Layer names differ by architecture: BERT calls its attention projections ``query/key/value``,
MPNet ``q/k/v/o``, ModernBERT ``Wqkv/Wo``, Qwen3 and Gemma3 ``q_proj ... down_proj``. A fixed name
list fits one family and fails (or silently adapts only the MLP) on the others, so by default every
linear layer of the transformer body gets an adapter -- the attention and MLP projections -- and
the heads that do not shape the token embeddings sentence-transformers pools (BERT's ``pooler``, a
language-model head) are left out. This is peft's ``all-linear`` rule, applied to an encoder too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from embedtune.errors import ConfigError

if TYPE_CHECKING:
    import torch

# First components of module paths that are heads, not the body whose hidden states are pooled.
HEAD_PREFIXES = ("pooler", "lm_head", "classifier", "score", "cls", "head")


@dataclass(frozen=True)
class LoraTargets:
    """peft's ``target_modules`` (layer names, matched as path suffixes) and ``exclude_modules``."""

    target_modules: list[str]
    exclude_modules: list[str]

    def describe(self) -> str:
        excluded = f" (not {', '.join(self.exclude_modules)})" if self.exclude_modules else ""
        return ",".join(self.target_modules) + excluded


def linear_layers(backbone: torch.nn.Module) -> dict[str, list[str]]:
    """Every ``nn.Linear`` of ``backbone``, grouped by its own name (the last path component)."""
    import torch

    layers: dict[str, list[str]] = {}
    for path, module in backbone.named_modules():
        if isinstance(module, torch.nn.Linear) and path:
            layers.setdefault(path.rpartition(".")[2], []).append(path)
    return layers


def _is_head(path: str) -> bool:
    return path.split(".", 1)[0] in HEAD_PREFIXES


def resolve_lora_targets(backbone: torch.nn.Module, requested: list[str] | None) -> LoraTargets:
    """The layers to adapt: ``requested`` names (checked against the model), or by default every
    linear layer of the body. Heads sharing a name with a body layer are excluded by full path."""
    layers = linear_layers(backbone)
    names = sorted(requested) if requested else sorted(
        name for name, paths in layers.items() if any(not _is_head(p) for p in paths))
    missing = [name for name in names if name not in layers and not any(
        p == name or p.endswith("." + name) for paths in layers.values() for p in paths)]
    if missing:
        raise ConfigError(f"--lora-target-modules {','.join(missing)} matches no linear layer of this model; "
                          f"its linear layers are named: {', '.join(sorted(layers))}")
    if not names:
        raise ConfigError("this model has no linear layers to put LoRA adapters on")
    excluded = sorted(p for name in names for p in layers.get(name, []) if _is_head(p))
    return LoraTargets(names, excluded)
