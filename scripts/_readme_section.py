"""A generated section of README.md between two marker comments: render it, or check it is current."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def updated(text: str, start: str, end: str, body: str) -> str:
    """``text`` with what lies between ``start`` and ``end`` replaced by ``body``."""
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def main(start: str, end: str, render: Callable[[], str], stale: str) -> None:
    """Write the section; with ``--check`` exit non-zero with ``stale`` when README differs instead."""
    current = README.read_text(encoding="utf-8")
    new = updated(current, start, end, render())
    if "--check" in sys.argv:
        sys.exit(0 if new == current else stale)
    README.write_text(new, encoding="utf-8")
