"""Render the package stack in docs/architecture.md from the import-linter contract (``--check`` fails on drift).

The picture is the contract itself (``.importlinter``), so the page cannot claim a stack that CI
does not enforce: each line is a layer, top imports bottom; ``|`` separates packages that must not
import each other, ``:`` packages of one layer that may.
"""
from __future__ import annotations

import configparser
import textwrap

import _readme_section as readme_section  # scripts/ is on sys.path when a script runs

TARGET = readme_section.DOCS / "architecture.md"
START, END = "<!-- package-stack:start -->", "<!-- package-stack:end -->"
CONTRACT = readme_section.ROOT / ".importlinter"


def layers() -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(CONTRACT, encoding="utf-8")
    section = next(s for s in parser.sections() if parser[s].get("type") == "layers")
    return [line.strip() for line in parser[section]["layers"].splitlines() if line.strip()]


def render(width: int = 60) -> str:
    """One box per layer, a long layer wrapped inside its box, arrows pointing down the stack."""
    rows = [textwrap.wrap(layer.replace("embedtune.", ""), width - 4) for layer in layers()]
    lines = ["```text"]
    for i, row in enumerate(rows):
        lines.append("┌" + "─" * width + "┐")
        lines += ["│" + part.center(width) + "│" for part in row]
        lines.append("└" + "─" * width + "┘")
        if i < len(rows) - 1:
            lines.append("↓".center(width + 2).rstrip())
    lines.append("```")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    readme_section.main(TARGET, START, END, render,
                        "docs/architecture.md's package stack is stale: run python scripts/architecture.py")
