"""Fast text encoding: token-budget batches on PyTorch or ONNX Runtime, pooled like sentence-transformers.

Backends:
- ``sentence-transformers``: ``model.encode_*`` as is (the reference);
- ``torch``: the same PyTorch model, fed length-sorted token-budget batches (less padding);
- ``torch-bf16``: the same under bf16 autocast (about 2-3× faster where the CPU or GPU has native
  bf16; embeddings differ from fp32 in the third decimal, and the nDCG change is measured in
  ``bench/speed.py``);
- ``onnx``: the transformer exported to ONNX Runtime with fused attention/layer-norm (fp32);
- ``onnx-int8``: the same with dynamically quantised int8 weights (smaller, faster, slightly
  different embeddings: its quality loss is measured in ``bench/speed.py``);
- ``openvino``: the transformer in OpenVINO at fp32 (``embedtune.inference.openvino_backend``);
- ``openvino-int8``: OpenVINO static int8 (weights and activations), calibrated on the corpus it
  encodes first unless ``calibration`` texts are given: the fastest CPU backend, slightly approximate.

The fast backends serve models made of a Transformer, a Pooling (any of sentence-transformers' modes:
mean, cls, max, weighted mean, last token, ... -- the model's own Pooling module pools), an optional
rotation (the bias-free linear Dense that Matryoshka training may add, see
``embedtune.training.rotation``) and an optional Normalize module, which covers the common
embedding models; anything else falls back to sentence-transformers with a log line saying why.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from embedtune.data.images import has_images, is_image, load_image
from embedtune.inference.batching import Tokenized, token_budget_batches, tokenize
from embedtune.inference.model_parts import head_of, reads_images, transformer_of, unsupported_reason
from embedtune.inference.openvino_backend import (
    OpenVinoRunner,
    openvino_runner,
    prebuilt_int8,
    shipped_directory,
)
from embedtune.progress import progress_bar
from embedtune.prompts import Role, role_prompt

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

Backend = Literal["sentence-transformers", "torch", "torch-bf16", "onnx", "onnx-int8", "openvino", "openvino-int8"]
BACKENDS: tuple[str, ...] = ("sentence-transformers", "torch", "torch-bf16", "onnx", "onnx-int8", "openvino",
                             "openvino-int8")
# Backends that reproduce sentence-transformers' fp32 embeddings (to ~1e-6): they may share cached embeddings.
EXACT_BACKENDS: frozenset[str] = frozenset({"sentence-transformers", "torch", "onnx", "openvino"})
# Backends that run on the PyTorch model itself (the others run an exported graph on the CPU).
TORCH_BACKENDS: frozenset[str] = frozenset({"sentence-transformers", "torch", "torch-bf16"})
DEFAULT_BACKEND = "torch"
# Padded tokens per batch on a CPU. Small batches cost no speed there and bound the activation
# memory: on 1,200 SciFact abstracts (2 cores, fp32 torch) a budget of 16,384 tokens took 48.6 s and
# peaked at 1.31 GB, 4,096 took 44.9 s (1.10 GB), 1,024 took 45.1 s (0.85 GB; plain
# sentence-transformers: 49.0 s, 1.08 GB); 512 was slower again (48.9 s). A GPU wants large batches.
CPU_MAX_TOKENS = 1024
# ONNX Runtime keeps activation memory in proportion to the largest batch it has run. On 1,200
# SciFact abstracts (2 cores) a budget of 8,192 tokens peaked at 1.32 GB against plain
# sentence-transformers' 0.92 GB; 1,024 peaked at 0.92 GB and ran about 10% faster.
ONNX_MAX_TOKENS = 1024
def token_budget(model: SentenceTransformer, batch_size: int) -> int:
    """Padded tokens per batch: ``batch_size`` rows of the model's full length, at most
    ``CPU_MAX_TOKENS`` unless the model runs on a GPU."""
    budget = batch_size * max(model.max_seq_length or 512, 1)
    return budget if str(model.device).startswith("cuda") else min(budget, CPU_MAX_TOKENS)


class FastEncoder:
    """Encode texts for one model with one backend; embeddings are float32, normalised like the model's."""

    def __init__(self, model: SentenceTransformer, backend: Backend = DEFAULT_BACKEND, *,
                 max_tokens: int | None = None, batch_size: int = 32,
                 export_dir: str | Path | None = None, devices: list[str] | None = None,
                 calibration: Sequence[str] | None = None) -> None:
        from embedtune.errors import ConfigError

        if backend not in BACKENDS:
            raise ConfigError(f'unknown encoding backend "{backend}" (choose one of: {", ".join(BACKENDS)})')
        self.model = model
        self.max_tokens = max_tokens or token_budget(model, batch_size)
        self.batch_size = batch_size
        self.devices = list(devices) if devices and len(devices) > 1 else None
        if self.devices is not None:
            if backend not in EXACT_BACKENDS & TORCH_BACKENDS:
                raise ConfigError(f"encoding on several devices ({', '.join(self.devices)}) works with the torch "
                                  f'and sentence-transformers backends, not "{backend}"')
            # sentence-transformers' multi-process pool: one worker per device, chunks in order.
            backend = "sentence-transformers"
        reason = unsupported_reason(model) if backend != "sentence-transformers" else None
        if reason is not None:
            logger.info("encoding with sentence-transformers: %s", reason)
            backend = "sentence-transformers"
        self.backend: Backend = backend
        self._session = None
        self._openvino: OpenVinoRunner | None = None
        shipped = shipped_directory(model, int8=backend == "openvino-int8") if (
            export_dir is None and backend.startswith("openvino")) else None
        if shipped is not None:  # the model folder carries its own OpenVINO model: run that one, calibrate none
            export_dir, calibration = shipped, None
        self._export_dir = export_dir
        if backend.startswith("onnx"):
            self._session = _onnx_session(model, export_dir, int8=backend == "onnx-int8")
            self.max_tokens = min(self.max_tokens, ONNX_MAX_TOKENS)
        elif backend == "openvino" or (backend == "openvino-int8" and (
                calibration is not None or prebuilt_int8(export_dir))):
            self._start_openvino(calibration)

    def encode(self, texts: list[str], role: Role = "document", *, show_progress: bool = False) -> np.ndarray:
        """Embeddings for ``texts`` in their order, with the model's prompt for ``role`` applied.

        Image references among them (``embedtune.data.images``) are encoded by the model's image
        tower, through sentence-transformers, the texts as usual; each in its own batches."""
        if has_images(texts):
            return self._encode_with_images(texts, role, show_progress=show_progress)
        if self.backend == "sentence-transformers":
            method = self.model.encode_query if role == "query" else self.model.encode_document
            return np.asarray(method(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                     show_progress_bar=show_progress, device=self.devices), dtype=np.float32)
        if self.backend == "openvino-int8" and self._openvino is None:  # no corpus given: these texts calibrate
            self.use_corpus(texts)
        tokenized = tokenize(self.model, texts, prompt=role_prompt(self.model, role))
        return self._encode_tokenized(tokenized, show_progress=show_progress)

    def use_corpus(self, documents: Sequence[str]) -> None:
        """The corpus this encoder serves: ``openvino-int8`` calibrates on a sample of it (the other
        backends ignore it). Callers that have a corpus say so before encoding anything, so that
        queries and cached documents are always encoded by the model calibrated on the documents."""
        if self.backend == "openvino-int8" and self._openvino is None:
            self._start_openvino(documents)

    def _start_openvino(self, calibration: Sequence[str] | None) -> None:
        import torch

        self._openvino = openvino_runner(self.model, self._export_dir, int8=self.backend == "openvino-int8",
                                         calibration=calibration, threads=torch.get_num_threads())
        self.max_tokens = min(self.max_tokens, ONNX_MAX_TOKENS)

    def kernels(self) -> dict[str, int]:
        """Which OpenVINO kernels ran the matrix products (empty for the other backends)."""
        return self._openvino.kernels() if self._openvino is not None else {}

    def _encode_with_images(self, items: list[str], role: Role, *, show_progress: bool) -> np.ndarray:
        from embedtune.errors import ConfigError

        if not reads_images(self.model):
            raise ConfigError("the data holds images but the model reads text only; give an image-text model "
                              "(a CLIP-style sentence-transformers model such as clip-ViT-B-32)")
        kinds = [is_image(item) for item in items]
        images = [i for i, image in enumerate(kinds) if image]
        texts = [i for i, image in enumerate(kinds) if not image]
        parts: list[tuple[list[int], np.ndarray]] = []
        if texts:
            parts.append((texts, self.encode([items[i] for i in texts], role, show_progress=show_progress)))
        method = self.model.encode_query if role == "query" else self.model.encode_document
        self.model.eval()
        chunk = self.batch_size * 8  # images decoded a chunk at a time: memory stays bounded on any corpus
        with progress_bar(len(images), "encoding", "image", show_bar=show_progress, logger=logger) as bar:
            for start in range(0, len(images), chunk):
                index = images[start:start + chunk]
                parts.append((index, np.asarray(method([load_image(items[i]) for i in index],
                                                       batch_size=self.batch_size, convert_to_numpy=True,
                                                       show_progress_bar=False), dtype=np.float32)))
                bar.update(len(index))
        out = np.empty((len(items), parts[0][1].shape[1]), dtype=np.float32)
        for index, embedded in parts:
            out[index] = embedded
        return out

    def _encode_tokenized(self, tokenized: Tokenized, *, show_progress: bool) -> np.ndarray:
        pooling = self.model[1]
        rotation, normalize = head_of(self.model)
        dim = self.model.get_embedding_dimension()
        out = np.empty((len(tokenized.input_ids), dim), dtype=np.float32)
        pad_id = self.model.tokenizer.pad_token_id or 0
        if self.backend in TORCH_BACKENDS:
            self.model.eval()  # as SentenceTransformer.encode does: no dropout in embeddings
        # OpenVINO keeps state per input shape: a few padded widths bound its memory (batching.ladder_width)
        ladder = self.model.max_seq_length if self._openvino is not None else None
        batches = token_budget_batches(tokenized, self.max_tokens, pad_id=pad_id, ladder_up_to=ladder)
        encoded = (self._openvino.map(batches) if self._openvino is not None  # several batches in flight
                   else ((batch, self._last_hidden_state(batch.inputs)) for batch in batches))
        with progress_bar(len(out), "encoding", "text", show_bar=show_progress, logger=logger) as bar:
            for batch, hidden in encoded:
                out[batch.index] = _pool(hidden, batch.inputs["attention_mask"], pooling, normalize, rotation)
                bar.update(len(batch.index))
        return out

    def _last_hidden_state(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self._openvino is not None:
            return self._openvino(inputs)
        if self._session is not None:
            names = {i.name for i in self._session.get_inputs()}
            return self._session.run(["last_hidden_state"], {k: v for k, v in inputs.items() if k in names})[0]
        import torch

        transformer = transformer_of(self.model)
        device = self.model.device
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16,
                                                    enabled=self.backend == "torch-bf16"):
            hidden = transformer(**{k: torch.from_numpy(v).to(device) for k, v in inputs.items()}).last_hidden_state
        return hidden.float().cpu().numpy()


def _pool(hidden: np.ndarray, mask: np.ndarray, pooling: torch.nn.Module, normalize: bool,
          rotation: np.ndarray | None = None) -> np.ndarray:
    """The model's own Pooling module (then the rotation, and Normalize) on one padded batch, so that every
    pooling mode sentence-transformers has pools exactly as ``model.encode`` does."""
    import torch

    with torch.inference_mode():
        features = pooling({"token_embeddings": torch.from_numpy(hidden),
                            "attention_mask": torch.from_numpy(mask)})
    pooled = features["sentence_embedding"].float().numpy()
    if rotation is not None:
        pooled = pooled @ rotation
    if normalize:
        pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return pooled.astype(np.float32, copy=False)


def _onnx_session(model: SentenceTransformer, export_dir: str | Path | None, *, int8: bool):
    import torch

    from embedtune._optional import require
    from embedtune.inference.cache import default_cache_dir, model_fingerprint
    from embedtune.inference.onnx_export import export_onnx

    directory = Path(export_dir) if export_dir is not None else (
        default_cache_dir() / "onnx" / model_fingerprint(model))
    ort = require("onnxruntime", "onnx", "--backend onnx")
    path = export_onnx(model, directory, int8=int8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
