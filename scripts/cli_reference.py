"""Render the CLI reference from `--help` into docs/cli.md (``--check`` fails on drift; CI runs it via a test)."""
from __future__ import annotations

import click

import _readme_section as readme_section  # scripts/ is on sys.path when a script runs
from embedtune.cli.app import cli

TARGET = readme_section.DOCS / "cli.md"
START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def render() -> str:
    """Each command's help as the CLI prints it: in a context under the group's, as ``embedtune CMD --help``."""
    parts = []
    with cli.context_class(cli, info_name="embedtune", terminal_width=100, **cli.context_settings) as root:
        parts.append(section("embedtune", cli, root))
        for name in sorted(cli.commands):
            command = cli.commands[name]
            with command.context_class(command, info_name=name, parent=root) as ctx:
                parts.append(section(f"embedtune {name}", command, ctx))
    return "\n".join(parts)


def section(title: str, command: click.Command, ctx: click.Context) -> str:
    text = "\n".join(line.rstrip() for line in command.get_help(ctx).splitlines()).strip("\n")
    return f"## `{title}`\n\n```text\n{text}\n```\n"


def updated(text: str) -> str:
    return readme_section.updated(text, START, END, render(), where=readme_section.relative(TARGET))


if __name__ == "__main__":
    readme_section.main(TARGET, START, END, render,
                        "docs/cli.md's CLI reference is stale: run python scripts/cli_reference.py")
