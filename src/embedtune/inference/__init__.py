"""Encoding (token-budget batches, ONNX Runtime, int8), the embedding cache, exact search, quantization."""
from embedtune.inference.encoder import BACKENDS, EXACT_BACKENDS, FastEncoder, unsupported_reason
from embedtune.inference.precision import PRECISIONS, resolve_precision

__all__ = ["BACKENDS", "EXACT_BACKENDS", "FastEncoder", "PRECISIONS", "resolve_precision", "unsupported_reason"]
