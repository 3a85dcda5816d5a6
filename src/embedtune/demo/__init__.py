"""The offline demos: code search over the Python standard library, and (``--images``) captions to drawn shapes."""
from __future__ import annotations

from embedtune.demo.codesearch import CodeSearchStats, build_codesearch_folder
from embedtune.demo.run import DemoResult, run_demo, run_image_demo

__all__ = ["CodeSearchStats", "DemoResult", "build_codesearch_folder", "run_demo", "run_image_demo"]
