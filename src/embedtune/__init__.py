"""embedtune: fine-tune a text-embedding model for one domain and measure the gain honestly.

Importing the package is cheap: torch and sentence-transformers load only when a function
that needs them runs.
"""
from __future__ import annotations

__version__ = "0.1.0"

from embedtune.errors import ConfigError, DataError, EmbedtuneError, ModelNotFoundError

__all__ = ["__version__", "EmbedtuneError", "DataError", "ConfigError", "ModelNotFoundError"]
