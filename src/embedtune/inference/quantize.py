"""Compact embeddings: int8 and binary quantization, and what each costs in bytes per vector.

- ``int8``: each dimension mapped linearly from its [min, max] over the documents onto 256 levels
  (1 byte per dimension, 4× smaller than float32); queries stay float32 and are scored against the
  de-quantized documents, as FAISS's 8-bit scalar quantizer does.
- ``binary``: one bit per dimension, its sign (32× smaller); queries are binarised too and
  ranked by Hamming distance, the cheapest search there is.

Combined with Matryoshka truncation (``embedtune.inference.search.truncate``) these give the
operating points ``embedtune eval --quantize int8 --dims 128`` scores side by side.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from embedtune.errors import ConfigError

Quantization = Literal["int8", "binary"]
QUANTIZATIONS: tuple[str, ...] = ("int8", "binary")


def parse_quantize(value: str | Sequence[str] | None, name: str = "--quantize") -> list[str]:
    """``"int8"``, ``"binary"`` or both (comma-separated); an unknown name is one clear error."""
    if value is None:
        return []
    items = [p.strip() for p in value.split(",")] if isinstance(value, str) else list(value)
    for item in items:
        if item not in QUANTIZATIONS:
            raise ConfigError(f'{name}: unknown quantization "{item}" (choose from: {", ".join(QUANTIZATIONS)})')
    return list(dict.fromkeys(i for i in items if i))


def bytes_per_vector(dim: int, precision: str) -> int:
    """Storage of one ``dim``-dimensional vector: float32 4 bytes, int8 1 byte, binary 1 bit per dimension."""
    return {"float32": 4 * dim, "int8": dim, "binary": math.ceil(dim / 8)}[precision]


def int8_ranges(documents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension (min, max) of the documents: the calibration int8 codes are spread over."""
    return documents.min(axis=0), documents.max(axis=0)


def quantize_int8(vectors: np.ndarray, ranges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """int8 codes (-128..127) of ``vectors`` over ``ranges``; values outside the range are clipped."""
    low, high = ranges
    scale = np.where(high > low, (high - low) / 255.0, 1.0)
    return (np.clip(np.round((vectors - low) / scale), 0, 255) - 128).astype(np.int8)


def dequantize_int8(codes: np.ndarray, ranges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    low, high = ranges
    scale = np.where(high > low, (high - low) / 255.0, 1.0)
    return (low + (codes.astype(np.float32) + 128) * scale).astype(np.float32)


def quantize_binary(vectors: np.ndarray) -> np.ndarray:
    """Sign bits packed 8 per byte (``np.packbits``): ``ceil(dim / 8)`` bytes per vector."""
    return np.packbits(vectors > 0, axis=1)


def scoring_space(queries: np.ndarray, documents: np.ndarray, precision: str) -> tuple[np.ndarray, np.ndarray]:
    """(query, document) float32 arrays whose inner products rank as the quantized search does.

    For binary vectors the ±1 form gives ``dim - 2 * hamming``: the same order as Hamming distance.
    """
    if precision == "float32":
        return queries, documents
    if precision == "int8":
        ranges = int8_ranges(documents)
        return queries, dequantize_int8(quantize_int8(documents, ranges), ranges)
    if precision == "binary":
        dim = queries.shape[1]
        return tuple(np.unpackbits(quantize_binary(x), axis=1, count=dim).astype(np.float32) * 2 - 1
                     for x in (queries, documents))  # type: ignore[return-value]
    raise ConfigError(f'unknown precision "{precision}" (choose from: float32, {", ".join(QUANTIZATIONS)})')
