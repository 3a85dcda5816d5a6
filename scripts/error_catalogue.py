"""Render the bad-input catalogue (tests/cli/error_cases.py, the table the CLI tests run) into docs/errors.md.

``--check`` fails when that page's section differs; tests/cli/test_cli_reference.py runs it.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # also when imported by a test

import _readme_section  # noqa: E402
from tests.cli.error_cases import CASES, ErrorCase  # noqa: E402  (the repository root is on sys.path now)

TARGET = _readme_section.DOCS / "errors.md"
START, END = "<!-- error-catalogue:start -->", "<!-- error-catalogue:end -->"
PLACEHOLDERS = {"{tmp}": "<tmp>", "{port}": "<port>"}


def placeholders(text: str) -> str:
    for name, shown in PLACEHOLDERS.items():
        text = text.replace(name, shown)
    return text


def code(text: str) -> str:
    """``text`` as a Markdown code span inside a table cell."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def command_line(case: ErrorCase) -> str:
    words = [f'"{a}"' if " " in a or not a else a for a in map(placeholders, case.args)]
    return " ".join(["embedtune", *words])


def render() -> str:
    rows = ["| What is wrong | Command | Exit | What embedtune says |", "|---|---|---|---|"]
    for case in CASES:
        problem = case.problem + (" *(not yet: a traceback today)*" if case.xfail else "")
        rows.append(f"| {problem} | {code(command_line(case))} | {case.exit_code} | "
                    f"{code(placeholders(case.message))} |")
    intro = (f"Every case below is run by `tests/cli/test_cli_errors.py` ({len(CASES)} cases; this table is "
             "generated from it by `python scripts/error_catalogue.py`). Each is one line after `embedtune: error: `, "
             "and nothing is written; exit 1 is bad input found while running, exit 2 a usage error (a wrong "
             "flag or value), whose line ends with `(see 'embedtune COMMAND --help')`. `<tmp>` is the folder "
             "the command ran in.")
    return f"{intro}\n\n" + "\n".join(rows) + "\n"


def updated(text: str) -> str:
    return _readme_section.updated(text, START, END, render(), where=_readme_section.relative(TARGET))


if __name__ == "__main__":
    _readme_section.main(TARGET, START, END, render,
                         "docs/errors.md's error catalogue is stale: run python scripts/error_catalogue.py")
