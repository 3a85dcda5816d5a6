"""Render every `embedtune train` setting, grouped by section, into docs/configuration.md (``--check`` fails on drift).

The text comes from TrainConfig itself: each field's default and its ``help`` metadata, in the
sections of ``TRAIN_SECTIONS``; so the page cannot disagree with the code.
"""
from __future__ import annotations

import dataclasses
import json
import textwrap

import _readme_section as readme_section  # scripts/ is on sys.path when a script runs
from embedtune.config import TrainConfig, short_name

TARGET = readme_section.DOCS / "configuration.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def render() -> str:
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    defaults = dataclasses.asdict(TrainConfig())
    lines = ["```yaml"]
    for section, names in TrainConfig.SECTIONS.items():
        lines.append(f"{section}:")
        for name in names:
            meta = fields[name].metadata
            help_text = meta.get("help", "").rstrip()
            help_text += "" if help_text.endswith((".", ")")) else "."
            if defaults[name] in (None, []) and "default" in meta:  # null or empty here means what the note says
                help_text += f" Unset: {meta['default']}."
            lines.extend(f"  # {part}" for part in textwrap.wrap(help_text, 96))
            lines.append(f"  {short_name(section, name)}: {_yaml(defaults[name])}")
        lines.append("")
    lines[-1] = "```"
    return "\n".join(lines) + "\n"


def _yaml(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)  # JSON scalars and lists are YAML too


if __name__ == "__main__":
    readme_section.main(TARGET, START, END, render,
                        "docs/configuration.md is stale: run python scripts/config_reference.py")
