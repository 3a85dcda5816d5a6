"""Load an ``embedtune export --format onnx|onnx-int8`` folder with ONNX Runtime and ``tokenizers`` only.

This is what a user without torch runs; the tests use it to check an export against its source.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np

from embedtune._optional import require
from embedtune.errors import ModelNotFoundError

MANIFEST = "embedtune_export.json"


class OnnxEmbedder:
    """Embeddings from an exported folder: tokenise, run the graph, read ``sentence_embedding``."""

    def __init__(self, directory: str | Path, threads: int = 0) -> None:
        from tokenizers import Tokenizer

        ort = require("onnxruntime", "onnx", "loading an ONNX export")

        self.directory = Path(directory)
        manifest = self.directory / MANIFEST
        if not manifest.is_file():
            raise ModelNotFoundError(f'"{directory}" is not an embedtune ONNX export (no {MANIFEST})')
        self.manifest = json.loads(manifest.read_text(encoding="utf-8"))
        self.tokenizer = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=int(self.manifest["max_seq_length"]))
        self.tokenizer.enable_padding(pad_id=int(self.manifest.get("pad_token_id") or 0))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.directory / self.manifest["file"]), options,
                                            providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], role: Literal["query", "document"] = "document",
               batch_size: int = 32) -> np.ndarray:
        """float32 embeddings, one row per text, with the model's prompt for ``role`` put first."""
        prompt = (self.manifest.get("prompts") or {}).get(role) or ""
        rows = []
        for start in range(0, len(texts), batch_size):
            encodings = self.tokenizer.encode_batch([prompt + t for t in texts[start:start + batch_size]])
            inputs = {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                      "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                      "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}
            rows.append(self.session.run(["sentence_embedding"],
                                         {k: v for k, v in inputs.items() if k in self.input_names})[0])
        return np.concatenate(rows).astype(np.float32, copy=False)
