"""Export a sentence-transformers text model's transformer to ONNX Runtime, fused, optionally int8.

``torch.onnx.export`` traces the transformer with eager attention, so that ONNX Runtime's
transformer optimizer recognises and fuses attention, skip-layer-norm and bias-GELU blocks;
``quantize_dynamic`` then gives the int8 variant. Exports are written to a temporary folder and
renamed into place, so a killed export never leaves a half-written model behind.
"""
from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune._optional import optional_imports
from embedtune.errors import OnnxUnavailableError
from embedtune.inference.model_parts import head_of, transformer_of, unsupported_reason

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)


def _torchscript_exporter() -> dict[str, bool]:
    """``dynamo=False`` where torch.onnx.export takes it (2.5+; dynamo is the default exporter from 2.9)."""
    import inspect

    import torch

    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
# Encoder model types whose layers ONNX Runtime's "bert" fusions are written for; other types use
# their own optimizer entry where ONNX Runtime has one, and are exported unfused where it has none.
BERT_LIKE_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "mpnet", "electra", "camembert", "modernbert"}


def export_onnx(model: SentenceTransformer, directory: str | Path, *, int8: bool = False,
                pooled: bool = False) -> Path:
    """Write ``directory/model.onnx`` (and ``model-int8.onnx`` when ``int8``) unless present; return the path.

    The graph's output is ``last_hidden_state``, pooled by the caller; with ``pooled`` it is
    ``sentence_embedding`` instead, the model's own pooling (and normalisation) traced into the
    graph, so that ONNX Runtime alone gives the embeddings (``embedtune export --format onnx``).
    """
    directory = Path(directory)
    target = directory / (INT8_FILE if int8 else FP32_FILE)
    if target.is_file():
        return target
    with optional_imports("onnx", "ONNX export"):  # before minutes of tracing, not after; it imports onnx too
        from onnxruntime.transformers.optimizer import optimize_model
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as tmp:
        fp32 = directory / FP32_FILE
        if not fp32.is_file():
            raw = Path(tmp) / "raw.onnx"
            trace_onnx(model, raw, pooled=pooled)
            staged = Path(tmp) / FP32_FILE
            _fuse(raw, staged, transformer_of(model).config, optimize_model)
            os.replace(staged, fp32)
        if int8:
            import onnx
            from onnxruntime.quantization import QuantType, quantize_dynamic

            staged = Path(tmp) / INT8_FILE
            # The fused graph's contrib ops defeat shape inference; tell the quantizer they are fp32.
            # Per-channel scales matter: one scale per weight matrix dropped the worst cosine to
            # the fp32 embedding from 0.986 to 0.913 on SciFact abstracts.
            # 7-bit weights (reduce_range): without VNNI, x86 int8 kernels add u8*s8 products in
            # pairs into int16, which saturates on full-range weights; an export may run on any
            # CPU, and on an AVX2-only one full range dropped a tiny Gemma3's worst cosine to 0.84.
            quantize_dynamic(str(fp32), str(staged), weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=True, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            os.replace(staged, target)
    return target


def optimizer_type(model_type: str) -> str | None:
    """ONNX Runtime's transformer-optimizer entry for a transformers ``model_type`` (``None``: none fits)."""
    from onnxruntime.transformers.optimizer import MODEL_TYPES

    if model_type in BERT_LIKE_TYPES:
        return "bert"
    return model_type if model_type in MODEL_TYPES else None


def _fuse(raw: Path, staged: Path, config: object, optimize_model: Callable[..., Any]) -> None:
    """Write ``raw`` to ``staged`` with ONNX Runtime's attention/layer-norm fusions where it has them for
    this model type, else unfused (ONNX Runtime's session-level optimisations still apply at load)."""
    import shutil

    model_type = getattr(config, "model_type", "")
    fusion_type = optimizer_type(model_type)
    optimized = None
    if fusion_type is not None:
        # opt_level 0: the fusions alone. The default (1) first runs the graph through an ONNX
        # Runtime session, which found the same fusions for MiniLM and gave bit-identical outputs
        # at 0.05-0.2 GB more peak memory; sessions apply those basic passes at load anyway.
        optimized = optimize_model(str(raw), model_type=fusion_type, opt_level=0,
                                   num_heads=getattr(config, "num_attention_heads", 0),
                                   hidden_size=getattr(config, "hidden_size", 0))
    statistics = getattr(optimized, "get_fused_operator_statistics", None)
    if statistics is None:
        logger.info("ONNX Runtime has no fusions for model type %r: exporting the unfused graph", model_type)
        shutil.copyfile(raw, staged)
        return
    fused = {k: v for k, v in statistics().items() if v}
    logger.info("ONNX fusions: %s", fused)
    if fusion_type == "bert" and not any("Attention" in name for name in fused):
        logger.info("attention is not fused in this graph (transformers before 5.9 trace it in a form ONNX "
                    "Runtime does not recognise): the embeddings are exact, attention runs unfused and slower")
    optimized.save_model_to_file(str(staged))


def trace_onnx(model: SentenceTransformer, path: Path, *, pooled: bool = False) -> None:
    """Trace the transformer (with ``pooled``: and its pooling head) to a plain, unfused ONNX graph at ``path``."""
    import torch

    if pooled and (reason := unsupported_reason(model)) is not None:
        raise OnnxUnavailableError(f"cannot trace this model's pooling into ONNX: {reason}")
    pooling = model[1] if pooled else None
    rotation, normalize = head_of(model) if pooled else (None, False)
    rotation_tensor = torch.from_numpy(rotation) if rotation is not None else None

    class _LastHiddenState(torch.nn.Module):
        """Positional inputs to keyword arguments (transformers 5 reordered ``forward``'s parameters)."""

        def __init__(self, transformer: torch.nn.Module, names: list[str]) -> None:
            super().__init__()
            self.transformer, self.names = transformer, names

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(**dict(zip(self.names, tensors))).last_hidden_state
            return _pool_torch(hidden, tensors[1], pooling, normalize, rotation_tensor) if pooled else hidden

    transformer = transformer_of(model)
    input_names = ["input_ids", "attention_mask"]
    if "token_type_ids" in model.preprocess(["probe"]):
        input_names.append("token_type_ids")
    previous = getattr(transformer.config, "_attn_implementation", None)
    was_training = transformer.training
    transformer.eval()
    try:
        if previous not in (None, "eager"):
            transformer.set_attn_implementation("eager")
        wrapper = _LastHiddenState(transformer, input_names)
        # A padded row in the example, or the trace would bake in the "no padding" shortcut.
        example = [torch.ones((2, 8), dtype=torch.long) for _ in input_names]
        example[1][1, 5:] = 0
        output = "sentence_embedding" if pooled else "last_hidden_state"
        axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
        axes[output] = {0: "batch"} if pooled else {0: "batch", 1: "sequence"}
        with warnings.catch_warnings():
            # Shape checks in transformers' masking and sentence-transformers' pooling hold for every
            # input (the mask always matches the tokens); the parity check after export proves it.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(wrapper, tuple(example), str(path), input_names=input_names,
                              output_names=[output], dynamic_axes=axes, opset_version=17,
                              **_torchscript_exporter())
    finally:
        if previous not in (None, "eager"):
            transformer.set_attn_implementation(previous)
        transformer.train(was_training)


def _pool_torch(hidden: torch.Tensor, mask: torch.Tensor, pooling: torch.nn.Module, normalize: bool,
                rotation: torch.Tensor | None = None) -> torch.Tensor:
    """The model's own Pooling module (then the rotation, and Normalize), traced into the graph
    (the numpy twin is ``embedtune.inference.encoder._pool``)."""
    import torch

    pooled = pooling({"token_embeddings": hidden, "attention_mask": mask})["sentence_embedding"]
    if rotation is not None:
        pooled = pooled @ rotation.to(pooled.dtype)
    return torch.nn.functional.normalize(pooled, p=2, dim=1, eps=1e-12) if normalize else pooled
