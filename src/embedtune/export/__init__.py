"""Exports: sentence-transformers folder, peft adapter, ONNX fp32/int8."""
from __future__ import annotations

from embedtune.export.export import FORMATS, ExportResult, NoAdapterError, export_model

__all__ = ["FORMATS", "ExportResult", "NoAdapterError", "export_model"]
