"""bench/_harness.Results: a row keeps the machine it ran on, and --continue deletes nothing."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def harness(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import _harness

    monkeypatch.setattr(_harness, "machine_info", lambda: {"cpu": "this machine"})
    monkeypatch.setattr(_harness, "git_commit", lambda: "new")
    yield _harness
    sys.modules.pop("_harness", None)


def test_continue_keeps_each_rows_machine_and_every_row(harness, tmp_path) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"command": "old run", "started": "2026-01-01", "machine": {"cpu": "older machine"},
                                "commit": "old", "steps": {"a": {"x": 1}, "b": {"x": 2}}}), encoding="utf-8")
    results = harness.Results(path, "new run")
    results.continue_earlier()
    results.record("c", {"x": 3})
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert list(saved["steps"]) == ["a", "b", "c"]
    assert saved["steps"]["a"]["run"]["machine"] == {"cpu": "older machine"}
    assert saved["steps"]["a"]["run"]["commit"] == "old"
    assert saved["steps"]["c"]["run"]["machine"] == {"cpu": "this machine"}
    assert saved["steps"]["c"]["run"]["commit"] == "new"
    assert saved["command"] == "old run && new run"
    results.record("a", {**saved["steps"]["a"], "y": 1})  # a row updated later keeps where it first ran
    assert json.loads(path.read_text(encoding="utf-8"))["steps"]["a"]["run"]["commit"] == "old"
