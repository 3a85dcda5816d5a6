"""Where embedtune keeps what it can rebuild: embeddings, ONNX exports, downloaded images, converted models."""
from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$EMBEDTUNE_CACHE_DIR``, else ``$XDG_CACHE_HOME/embedtune``, else ``~/.cache/embedtune``."""
    if env := os.environ.get("EMBEDTUNE_CACHE_DIR"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "embedtune"
