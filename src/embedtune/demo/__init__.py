"""Datasets built offline from what is already on the machine, for demos and end-to-end tests."""
from __future__ import annotations

from embedtune.demo.codesearch import CodeSearchStats, build_codesearch_folder

__all__ = ["CodeSearchStats", "build_codesearch_folder"]
