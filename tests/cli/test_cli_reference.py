"""The README's CLI reference and result tables are generated; these fail when they drift from the source."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_cli_reference_matches_help() -> None:
    proc = subprocess.run([sys.executable, "scripts/cli_reference.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_readme_results_match_the_benchmark_files() -> None:
    proc = subprocess.run([sys.executable, "scripts/bench_tables.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
