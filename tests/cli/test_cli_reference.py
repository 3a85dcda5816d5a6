"""The generated sections (CLI reference, error catalogue, result tables) fail when they drift from the source.

They live in docs/cli.md, docs/errors.md, and the README's results table and docs/benchmarks/ pages;
each generator's ``--check`` exits non-zero when its target differs from what it would write.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, f"scripts/{script}", "--check"], cwd=ROOT, capture_output=True,
                          text=True)


def test_docs_cli_reference_matches_help() -> None:
    proc = check("cli_reference.py")
    assert proc.returncode == 0, proc.stderr
    assert "## `embedtune train`" in (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def test_docs_configuration_lists_every_setting_as_the_code_has_it() -> None:
    proc = check("config_reference.py")
    assert proc.returncode == 0, proc.stderr


def test_docs_error_catalogue_matches_the_cases() -> None:
    proc = check("error_catalogue.py")
    assert proc.returncode == 0, proc.stderr


def test_results_match_the_benchmark_files() -> None:
    """README's one results table and the docs' benchmark pages, each section where its markers are."""
    proc = check("bench_tables.py")
    assert proc.returncode == 0, proc.stderr
    assert "<!-- default-recipe:start -->" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short_and_keeps_the_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250, "README.md is over 250 lines: move detail into docs/"
    setup = readme.split("## Set up on a fresh machine\n", 1)[1].split("\n## ", 1)[0]
    assert "pip install torch==2.13.0 && pip install -e . && HF_HUB_OFFLINE=1 embedtune demo" in setup
    assert ("pip install torch==2.13.0 && pip install -e '.[test]' && HF_HUB_OFFLINE=1 python -m pytest"
            in setup)


def test_docs_architecture_draws_the_enforced_stack() -> None:
    proc = check("architecture.py")
    assert proc.returncode == 0, proc.stderr
    assert "inference : models" in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
