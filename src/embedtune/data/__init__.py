"""Readers for retrieval data (BEIR folders, pair/triplet files, HF datasets), checks and splits."""
from __future__ import annotations

from embedtune.data.beir import load_beir
from embedtune.data.hf import pairs_from_hf_dataset
from embedtune.data.pairs import load_pairs
from embedtune.data.split import split_by_query
from embedtune.data.types import RetrievalSet, TrainingPairs

__all__ = [
    "RetrievalSet",
    "TrainingPairs",
    "load_beir",
    "load_pairs",
    "pairs_from_hf_dataset",
    "split_by_query",
]
