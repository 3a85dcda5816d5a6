"""Render the CLI reference from `--help` into docs/cli.md (``--check`` fails on drift; CI runs it via a test)."""
from __future__ import annotations

import click

import _readme_section as readme_section  # scripts/ is on sys.path when a script runs
from embedtune.cli.app import cli

TARGET = readme_section.DOCS / "cli.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def render() -> str:
    parts = []
    for name in [None, *sorted(cli.commands)]:
        command = cli if name is None else cli.commands[name]
        info = " ".join(["embedtune"] + ([name] if name else []))
        with click.Context(command, info_name=info, terminal_width=100, max_content_width=100,
                           help_option_names=["-h", "--help"]) as ctx:
            parts.append(f"## `{info}`\n\n```text\n{command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


def updated(text: str) -> str:
    return readme_section.updated(text, START, END, render(), where=readme_section.relative(TARGET))


if __name__ == "__main__":
    readme_section.main(TARGET, START, END, render,
                        "docs/cli.md's CLI reference is stale: run python scripts/cli_reference.py")
