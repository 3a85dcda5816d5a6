"""Render the CLI reference from `--help` into README.md (``--check`` fails on drift; CI runs it via a test)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from embedtune.cli.app import cli

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def render() -> str:
    parts = []
    for name in [None, *sorted(cli.commands)]:
        command = cli if name is None else cli.commands[name]
        info = " ".join(["embedtune"] + ([name] if name else []))
        with click.Context(command, info_name=info, terminal_width=100, max_content_width=100,
                           help_option_names=["-h", "--help"]) as ctx:
            parts.append(f"### `{info}`\n\n```text\n{command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


def updated(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{render()}{END}{tail}"


if __name__ == "__main__":
    current = README.read_text(encoding="utf-8")
    if "--check" in sys.argv:
        sys.exit(0 if updated(current) == current else "README CLI reference is stale: run scripts/cli_reference.py")
    README.write_text(updated(current), encoding="utf-8")
