"""A generated section of a Markdown file (README.md or a page under docs/) between two marker comments.

Each generator renders its section into one target file; with ``--check`` it changes nothing and exits
non-zero when the target's section differs from what it would render.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


class MissingMarkerError(ValueError):
    """The target file lacks a section's start or end marker."""


def updated(text: str, start: str, end: str, body: str, where: str = "the text") -> str:
    """``text`` with what lies between ``start`` and ``end`` replaced by ``body``."""
    if start not in text or end not in text.split(start, 1)[1]:
        raise MissingMarkerError(f"{where} has no section between {start} and {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def relative(path: Path) -> str:
    """``path`` relative to the repository root, for messages."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(target: Path, start: str, end: str, render: Callable[[], str], stale: str) -> None:
    """Write the section into ``target``; with ``--check`` exit non-zero with ``stale`` when it differs instead."""
    current = target.read_text(encoding="utf-8")
    try:
        new = updated(current, start, end, render(), where=relative(target))
    except MissingMarkerError as e:
        sys.exit(str(e))
    if "--check" in sys.argv:
        sys.exit(0 if new == current else stale)
    target.write_text(new, encoding="utf-8")
