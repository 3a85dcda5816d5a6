"""Encoding with an OpenVINO export folder and no PyTorch: ``tokenizers`` + OpenVINO + numpy.

Why: a process that encodes through sentence-transformers imports PyTorch and holds the model's
PyTorch weights beside the OpenVINO graph it actually runs (on the 2-core Intel Xeon of
bench/results: 0.54 GB before the first text, against plain sentence-transformers' 0.93 GB peak
for a whole SciFact encode). A deployed ``embedtune export --format openvino-int8`` folder needs
neither: its tokenizer is a ``tokenizer.json``, its transformer the OpenVINO graph, and what
follows (pooling, the Matryoshka rotation, Normalize) is a few lines of numpy read from the
folder's sentence-transformers configuration. :class:`LeanEncoder` does exactly that and imports
nothing heavier, so an encoding service or batch job runs in a fraction of the memory.

It serves the models the fast backends serve (``embedtune.inference.model_parts``): a Transformer,
a Pooling (cls, max, mean, mean of sqrt length, last token), an optional rotation and an optional
Normalize; a folder with anything else is refused with the reason. Texts get the model's prompts
(``config_sentence_transformers.json``) as ``encode_query`` / ``encode_document`` apply them.
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from embedtune._optional import optional_imports
from embedtune.errors import ConfigError
from embedtune.inference.batching import Tokenized, token_budget_batches
from embedtune.inference.openvino_backend import FP32_FILE, INT8_FILE, OpenVinoRunner
from embedtune.progress import progress_bar
from embedtune.prompts import Role, role_prompt

logger = logging.getLogger(__name__)

MAX_TOKENS = 1024  # padded tokens per batch, as the other exported-graph backends (encoder.ONNX_MAX_TOKENS)
# The config keys sentence-transformers < 6 saved, one flag per pooling mode, in the order it concatenates them.
LEGACY_POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_max_tokens": "max",
                       "pooling_mode_mean_tokens": "mean", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
                       "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}
LEAN_POOLING = frozenset({"cls", "max", "mean", "mean_sqrt_len_tokens", "lasttoken"})
# Backend names where a command offers this encoder (`embedtune serve --backend`), and whether each is int8.
LEAN_BACKENDS: dict[str, bool] = {"lean-openvino": False, "lean-openvino-int8": True}


@dataclass(frozen=True)
class Head:
    """What follows the transformer: pooling modes, the rotation matrix (``None`` without one), Normalize."""

    modes: tuple[str, ...]
    rotation: np.ndarray | None
    normalize: bool


class LeanEncoder:
    """Embeddings from a sentence-transformers folder with an ``openvino/`` graph, without PyTorch.

    ``int8`` picks the static int8 graph (``openvino-int8``; else the fp32 one, ``openvino``).
    Embeddings are float32, pooled and normalised as the model's own modules do.
    """

    def __init__(self, folder: str | Path, *, int8: bool = True, threads: int | None = None,
                 max_tokens: int = MAX_TOKENS) -> None:
        self.folder = Path(folder)
        modules = _read_json(self.folder / "modules.json")
        transformer = self.folder / (modules[0].get("path") or "") if modules else self.folder
        name = INT8_FILE if int8 else FP32_FILE
        graph = next((d / "openvino" / name for d in (self.folder, transformer) if (d / "openvino" / name).is_file()),
                     None)
        if graph is None:
            fmt = "openvino-int8" if int8 else "openvino"
            raise ConfigError(f"{self.folder}: no openvino/{name}; write one with "
                              f"`embedtune export --model MODEL --format {fmt} --out FOLDER`")
        # read by prompts.role_prompt, as a SentenceTransformer's attributes of the same names are
        self.prompts, self.default_prompt_name = _prompts(self.folder)
        self.head = _head(self.folder, modules, self.prompts)
        self.tokenizer, self.lower_case = _tokenizer(transformer)
        self.pad_id = _pad_id(self.tokenizer)
        self.max_tokens = max_tokens
        with optional_imports("openvino", "encoding with an OpenVINO export"):
            import openvino  # noqa: F401  (checked here, so a missing extra is one line, not a traceback)
        self.runner = OpenVinoRunner(graph, exact=not int8, threads=threads or _cpu_threads())
        logger.info("encoding with %s (no PyTorch): %s pooling%s%s", graph.name, "+".join(self.head.modes),
                    ", rotation" if self.head.rotation is not None else "", ", normalized" if self.head.normalize else "")

    def prompt(self, role: Role) -> str | None:
        """The prompt ``encode_query`` (role "query") or ``encode_document`` would prepend."""
        return role_prompt(self, role)  # type: ignore[arg-type]  # reads .prompts and .default_prompt_name

    def tokenize(self, texts: Sequence[str], role: Role = "document") -> Tokenized:
        """Unpadded token ids of each text, with the role's prompt, truncated to the model's length."""
        prompt = self.prompt(role) or ""
        prepared = [prompt + str(text).strip() for text in texts]
        if self.lower_case:
            prepared = [text.lower() for text in prepared]
        encodings = self.tokenizer.encode_batch(prepared)
        ids = [np.asarray(e.ids, dtype=np.int64) for e in encodings]
        types = [np.asarray(e.type_ids, dtype=np.int64) for e in encodings] if "token_type_ids" in \
            self.runner.names else None
        return Tokenized(ids, types)

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens of ``texts`` as given (no prompt), after truncation: OpenAI's ``usage.prompt_tokens``."""
        prepared = [str(text).lower() if self.lower_case else str(text) for text in texts]
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(prepared)) if prepared else 0

    def encode(self, texts: Sequence[str], role: Role = "document", *, show_progress: bool = False) -> np.ndarray:
        """Embeddings for ``texts`` in their order; progress on a bar with ``show_progress``, else in the log."""
        tokenized = self.tokenize(texts, role)
        out: np.ndarray | None = None
        batches = token_budget_batches(tokenized, self.max_tokens, pad_id=self.pad_id,
                                       ladder_up_to=int(self.tokenizer.truncation["max_length"]))
        with progress_bar(len(texts), "encoding", "text", show_bar=show_progress, logger=logger) as bar:
            for batch, hidden in self.runner.map(batches):
                pooled = pool(hidden, batch.inputs["attention_mask"], self.head)
                if out is None:
                    out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
                out[batch.index] = pooled
                bar.update(len(batch.index))
        return out if out is not None else np.empty((0, 0), dtype=np.float32)


def pool(hidden: np.ndarray, mask: np.ndarray, head: Head) -> np.ndarray:
    """sentence-transformers' Pooling (its modes, concatenated in its order), rotation and Normalize in numpy."""
    hidden = hidden.astype(np.float32, copy=False)
    weights = mask.astype(np.float32)[:, :, None]
    parts = []
    for mode in head.modes:
        if mode == "cls":  # the first real token (left padding puts pads first)
            parts.append(hidden[np.arange(len(hidden)), mask.argmax(axis=1)])
        elif mode == "max":
            parts.append(np.where(weights > 0, hidden, -np.inf).max(axis=1))
        elif mode in ("mean", "mean_sqrt_len_tokens"):
            counts = np.clip(weights.sum(axis=1), 1e-9, None)
            total = (hidden * weights).sum(axis=1)
            parts.append(total / counts if mode == "mean" else total / np.sqrt(counts))
        else:  # lasttoken: the last real token, with right or left padding
            last = mask.shape[1] - 1 - mask[:, ::-1].argmax(axis=1)
            parts.append(hidden[np.arange(len(hidden)), last])
    pooled = np.concatenate(parts, axis=1)
    if head.rotation is not None:
        pooled = pooled @ head.rotation
    if head.normalize:
        pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return pooled.astype(np.float32, copy=False)


def _head(folder: Path, modules: list[dict[str, Any]], prompts: dict[str, str]) -> Head:
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    rest = list(zip(kinds[2:], modules[2:]))
    rotation = None
    if rest and rest[0][0] == "Dense":
        rotation = _rotation(folder / rest.pop(0)[1]["path"])
    if kinds[:2] != ["Transformer", "Pooling"] or [k for k, _ in rest] not in ([], ["Normalize"]):
        raise ConfigError(f"{folder}: modules {kinds}; encoding without PyTorch handles Transformer, Pooling"
                          "[, rotation][, Normalize] (use --backend openvino-int8 with sentence-transformers)")
    config = _read_json(folder / modules[1]["path"] / "config.json")
    modes = _pooling_modes(config)
    if not set(modes) <= LEAN_POOLING:
        raise ConfigError(f"{folder}: pooling {'+'.join(modes)}; encoding without PyTorch handles "
                          f"{', '.join(sorted(LEAN_POOLING))}")
    if not config.get("include_prompt", True) and any(prompts.values()):
        raise ConfigError(f"{folder}: the pooling leaves prompt tokens out, which encoding without PyTorch "
                          "does not do (use --backend openvino-int8 with sentence-transformers)")
    return Head(modes, rotation, [k for k, _ in rest] == ["Normalize"])


def _pooling_modes(config: dict[str, Any]) -> tuple[str, ...]:
    mode = config.get("pooling_mode")
    if mode is None:  # a config saved before sentence-transformers 6: one flag per mode
        return tuple(m for key, m in LEGACY_POOLING_KEYS.items() if config.get(key))
    return (mode,) if isinstance(mode, str) else tuple(mode)


def _rotation(folder: Path) -> np.ndarray:
    """A bias-free square Dense with the identity activation (the Matryoshka rotation) as ``x @ matrix``."""
    config = _read_json(folder / "config.json")
    activation = str(config.get("activation_function", "")).rsplit(".", 1)[-1]
    if config.get("bias", True) or activation != "Identity" or config.get("in_features") != config.get(
            "out_features"):
        raise ConfigError(f"{folder}: a Dense module other than a bias-free rotation; encoding without PyTorch "
                          "handles Transformer, Pooling[, rotation][, Normalize]")
    from safetensors.numpy import load_file

    weights = load_file(str(folder / "model.safetensors"))
    matrix = weights.get("linear.weight")
    if matrix is None:
        raise ConfigError(f"{folder / 'model.safetensors'}: no linear.weight")
    return np.ascontiguousarray(matrix.astype(np.float32).T)


def _tokenizer(folder: Path) -> tuple[Any, bool]:
    """The folder's fast tokenizer with truncation at the model's length, and whether text is lowercased first."""
    with optional_imports("tokenizers", "encoding without PyTorch"):
        from tokenizers import Tokenizer
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ConfigError(f"{folder}: no tokenizer.json (encoding without PyTorch needs a fast tokenizer's file)")
    settings = _read_json(folder / "sentence_bert_config.json") if (
        folder / "sentence_bert_config.json").is_file() else {}
    limit = settings.get("max_seq_length") or _read_json(folder / "tokenizer_config.json").get("model_max_length", 512)
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=int(limit))
    return tokenizer, bool(settings.get("do_lower_case", False))


def _pad_id(tokenizer: Any) -> int:
    for token in ("[PAD]", "<pad>", "<|endoftext|>"):
        found = tokenizer.token_to_id(token)
        if found is not None:
            return int(found)
    return 0


def _prompts(folder: Path) -> tuple[dict[str, str], str | None]:
    path = folder / "config_sentence_transformers.json"
    config = _read_json(path) if path.is_file() else {}
    return dict(config.get("prompts") or {}), config.get("default_prompt_name")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing (not a sentence-transformers model folder)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc})") from None


def _cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
