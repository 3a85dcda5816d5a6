"""The offline demo: a code-search set built from the Python standard library, and the run over it."""
from __future__ import annotations

from embedtune.demo.codesearch import CodeSearchStats, build_codesearch_folder
from embedtune.demo.run import DemoResult, run_demo

__all__ = ["CodeSearchStats", "DemoResult", "build_codesearch_folder", "run_demo"]
