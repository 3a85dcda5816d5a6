"""Synthetic training pairs from an unlabelled corpus (offline ICT and titles, an LLM endpoint, doc2query),
their quality filters, and ``adapt``: generate -> mine -> train -> evaluate in one call."""
from __future__ import annotations

from embedtune.generate.config import AdaptConfig, GenerateConfig
from embedtune.generate.corpus import Passage, read_passages
from embedtune.generate.pipeline import GenerateResult, GenerationError, generate_pairs

__all__ = ["AdaptConfig", "GenerateConfig", "GenerateResult", "GenerationError", "Passage", "generate_pairs",
           "read_passages"]
