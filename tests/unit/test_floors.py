"""The floors job (.ci/floors) can only prove floors that exist: every dependency must state one."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+: scripts/floors.py reads pyproject.toml with tomllib")

ROOT = Path(__file__).resolve().parents[2]


def test_every_dependency_has_a_floor_the_floors_job_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["test"]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "floors.py"), "--extra", "test"], check=True,
                          capture_output=True, text=True, timeout=60)
    pins = dict(line.split("==") for line in proc.stdout.split())
    for spec in specs:
        name = spec.split(">=")[0].split("[")[0].strip()
        assert ">=" in spec, f"{name} has no floor: the floors job cannot check it"
        assert pins[name] == spec.split(">=")[1].split(",")[0].strip(), name
