"""Timed checkpoints and a clean stop on SIGTERM / Ctrl-C: a kill loses minutes, not an epoch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from embedtune.interrupts import Interrupted, deferred_interrupts, pending
from embedtune.training.checkpointing import CheckpointCallback
from tests.fake_clock import FakeClock

INTERRUPTED = "embedtune: interrupted — rerun the same command to resume"


def _step(callback: CheckpointCallback, step: int) -> SimpleNamespace:
    control = SimpleNamespace(should_save=False)
    callback.on_step_end(SimpleNamespace(output_dir="/nonexistent"), SimpleNamespace(global_step=step), control)
    return control


def test_a_checkpoint_is_due_once_the_minutes_have_passed_since_the_last_save() -> None:
    clock = FakeClock()
    callback = CheckpointCallback(minutes=10, clock=clock)
    clock.now = 599
    assert not _step(callback, 1).should_save
    clock.now = 600
    assert _step(callback, 2).should_save
    callback.on_save(SimpleNamespace(output_dir="/nonexistent"), SimpleNamespace(global_step=2), None)
    clock.now = 1100
    assert not _step(callback, 3).should_save, "the clock restarts at every save, timed or not"
    clock.now = 1200
    assert _step(callback, 4).should_save


def test_zero_minutes_turns_timed_checkpoints_off() -> None:
    clock = FakeClock()
    callback = CheckpointCallback(minutes=0, clock=clock)
    clock.now = 1e9
    assert not _step(callback, 1).should_save


def test_a_signal_during_training_waits_for_the_end_of_the_step() -> None:
    callback = CheckpointCallback(minutes=0)
    with deferred_interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs: the step goes on
        assert pending() == signal.SIGTERM
        with pytest.raises(Interrupted) as stopped:
            _step(callback, 1)
    assert stopped.value.exit_code == 143
    assert pending() is None


def test_a_step_longer_than_the_grace_period_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("embedtune.interrupts.GRACE_SECONDS", 0.1)
    with pytest.raises(Interrupted) as stopped, deferred_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)  # a step that never ends
    assert stopped.value.exit_code == 130


def _pairs(path: Path, count: int) -> Path:
    topics = ["enzymes", "volcanoes", "tariffs", "sonnets", "glaciers", "vaccines", "compilers", "orchids"]
    rows = [{"query": f"what is said about {topics[i % 8]} in note {i}",
             "positive": f"Note {i} explains {topics[i % 8]}: fact number {i * 7} about {topics[i % 8]}."}
            for i in range(count)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _embedtune(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "embedtune.cli.app", *map(str, args)]


ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_DEBUG": ""}


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_models import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


def test_sigterm_between_timed_checkpoints_resumes_from_the_timed_one(tmp_path: Path, tiny_model: Path) -> None:
    """Checkpoints every step by the clock (dev evaluations only end each epoch), SIGTERM after the second:
    exit 143 with one line, and the rerun resumes from a timed checkpoint and trains exactly as many steps
    as an uninterrupted run."""
    data = _pairs(tmp_path / "pairs.jsonl", 90)
    common = ["--model", tiny_model, "--data", data, "--epochs", "2", "--batch-size", "8", "--max-seq-length", "32",
              "--save-every-minutes", "0.00001", "--json", "--quiet"]
    whole = subprocess.run(_embedtune("train", "--out", tmp_path / "whole", *common), capture_output=True,
                           text=True, env=ENV, timeout=600)
    assert whole.returncode == 0, whole.stderr
    evaluated = [e["step"] for e in json.loads(whole.stdout)["dev_history"]]
    total = evaluated[-1]

    out = tmp_path / "killed"
    proc = subprocess.Popen(_embedtune("train", "--out", out, *common), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "checkpoints").glob("checkpoint-*/trainer_state.json"))) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before two timed checkpoints"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143
    assert stderr.strip().splitlines()[-1] == INTERRUPTED and "Traceback" not in stderr
    assert not (out / "embedtune_train.json").exists()

    resumed = subprocess.run(_embedtune("train", "--out", out, *common), capture_output=True, text=True,
                             env=ENV, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    resumed_step = int(result["resumed_from"].split("-")[-1])
    assert 0 < resumed_step < total and resumed_step not in evaluated, "resumed from a timed checkpoint"
    assert [e["step"] for e in result["dev_history"]][-1] == total


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_outside_training_a_signal_stops_the_command_with_one_line(signum: int, code: int,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import click

    from embedtune.cli._errors import run_with_clean_errors

    @click.command()
    def slow() -> None:
        os.kill(os.getpid(), signum)
        time.sleep(5)
        raise AssertionError("the signal did not stop the command")

    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert run_with_clean_errors(slow, args=[]) == code
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert capsys.readouterr().err.splitlines() == [INTERRUPTED]
