"""Print the dependency floors of pyproject.toml as ``name==version`` pins (one per line) for the floors job.

Why: a floor nobody installs is a guess. ``.ci/floors`` installs exactly these pins in a fresh
virtual environment and runs the fast tests, so a floor that is too low fails CI instead of a user.
Only ``>=`` lower bounds are pinned; a dependency with none is left to pip. Needs Python 3.11+ (tomllib).
"""
from __future__ import annotations

import argparse
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def floor_pins(extras: list[str]) -> list[str]:
    """``name==floor`` for every core dependency and those of ``extras`` that give a ``>=`` floor."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    pins: dict[str, str] = {}
    for spec in specs:
        name = re.match(r"\s*([A-Za-z0-9_.\-]+)", spec)
        low = re.search(r">=\s*([0-9][^,;\s]*)", spec)
        if name and low:
            pins.setdefault(name.group(1).lower(), f"{name.group(1)}=={low.group(1)}")
    return list(pins.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extra", action="append", default=[], help="Also pin this extra's floors (repeatable).")
    parser.add_argument("--skip", action="append", default=[], help="Leave this package out (repeatable).")
    args = parser.parse_args()
    skip = {s.lower() for s in args.skip}
    print("\n".join(p for p in floor_pins(args.extra) if p.split("==")[0].lower() not in skip))


if __name__ == "__main__":
    main()
