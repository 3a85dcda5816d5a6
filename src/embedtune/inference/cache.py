"""On-disk cache of corpus embeddings, keyed by the model's weights and the exact texts.

Evaluating, mining and reranking all start by encoding the same corpus; with the key below a
second run with the same model and texts loads the matrix instead of spending minutes on it,
and any change to the weights, tokenizer length, prompt or a single text gives a new key.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embedtune.cache_dir import default_cache_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["EmbeddingCache", "default_cache_dir", "model_fingerprint", "texts_fingerprint"]

logger = logging.getLogger(__name__)


def model_fingerprint(model: SentenceTransformer) -> str:
    """A hash of every weight and of the settings that change what ``encode`` returns.

    The prompts are part of it: documents encoded with "passage: " in front are other vectors
    than the same documents encoded bare, and must not be served for them.
    """
    import torch

    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(model).encode())
    digest.update(repr((sorted((model.prompts or {}).items()), model.default_prompt_name)).encode())
    # Tokenisation: the repr stopped showing max_seq_length in sentence-transformers 6.3, and a
    # tokenizer taught to append EOS (embedtune.last_token) encodes the same texts differently.
    tokenizer = getattr(model, "tokenizer", None)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    # Only the post-processor: the tokenizer's truncation and padding state changes with each call.
    post_processor = json.loads(backend.to_str()).get("post_processor") if backend is not None else None
    digest.update(repr((model.max_seq_length, getattr(tokenizer, "padding_side", None))).encode())
    digest.update(json.dumps(post_processor, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def texts_fingerprint(texts: list[str]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()


class EmbeddingCache:
    """Stores one ``.npy`` matrix per (model, texts, role) key; ``None`` disables caching."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def path_for(self, model_key: str, texts: list[str], role: str) -> Path:
        return self.directory / f"{role}-{model_key}-{texts_fingerprint(texts)}.npy"

    def load(self, path: Path) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            logger.warning("ignoring unreadable cache file %s", path)
            return None

    def save(self, path: Path, matrix: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, matrix, allow_pickle=False)
        os.replace(tmp, path)
