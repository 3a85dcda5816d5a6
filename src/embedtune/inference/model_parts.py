"""What a sentence-transformers model is made of, as the fast encoders and the ONNX export read it.

Both the encoders (``encoder``) and the export (``onnx_export``) ask the same questions of a model
-- which transformer it holds, what follows its pooling, whether the fast path can reproduce it --
so the answers live here, below both.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from embedtune.errors import OnnxUnavailableError

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer


def reads_images(model: SentenceTransformer) -> bool:
    """Whether the model embeds images too (a CLIP-style model: sentence-transformers lists its modalities)."""
    return "image" in (getattr(model, "modalities", None) or [])


def unsupported_reason(model: SentenceTransformer) -> str | None:
    """Why the fast backends cannot reproduce ``model.encode`` (``None`` when they can)."""
    names = [type(module).__name__ for module in model]
    if reads_images(model):
        return "an image-text model (its Transformer module holds a text and an image tower; the fast path is text-only)"
    if names[:2] != ["Transformer", "Pooling"] or after_pooling(model)[1] not in ([], ["Normalize"]):
        return f"modules {names} (fast path handles Transformer, Pooling[, rotation][, Normalize])"
    pooling = model[1].get_config_dict()
    if not pooling.get("include_prompt", True) and any(model.prompts.values()):
        return "pooling excludes prompt tokens"
    return None


def is_rotation(module: object) -> bool:
    """A square, bias-free Dense with an identity activation: the linear map Matryoshka training may
    add after pooling (``embedtune.training.rotation``)."""
    import torch

    linear = getattr(module, "linear", None)
    return (type(module).__name__ == "Dense" and isinstance(linear, torch.nn.Linear) and linear.bias is None
            and linear.in_features == linear.out_features
            and isinstance(getattr(module, "activation_function", None), torch.nn.Identity)
            and not getattr(module, "use_residual", False))


def after_pooling(model: SentenceTransformer) -> tuple[object | None, list[str]]:
    """The rotation module right after pooling (``None`` without one) and the names of the modules after it."""
    rest = list(model)[2:]
    rotation = rest.pop(0) if rest and is_rotation(rest[0]) else None
    return rotation, [type(module).__name__ for module in rest]


def head_of(model: SentenceTransformer) -> tuple[np.ndarray | None, bool]:
    """What follows the pooling in a model the fast path serves: the rotation matrix
    (``embedding @ matrix``; ``None`` without one) and whether a Normalize module ends it."""
    rotation, rest = after_pooling(model)
    matrix = None if rotation is None else rotation.linear.weight.detach().float().cpu().numpy().T.copy()
    return matrix, rest[:1] == ["Normalize"]


def transformer_of(model: SentenceTransformer) -> torch.nn.Module:
    """The Hugging Face model inside the first (Transformer) module."""
    first = model[0]
    auto_model = getattr(first, "auto_model", None) or getattr(first, "model", None)
    if auto_model is None:
        raise OnnxUnavailableError(f"the first module ({type(first).__name__}) holds no transformer")
    return auto_model
