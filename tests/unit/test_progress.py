"""Progress lines for runs without a terminal: their format, their throttling, and the Trainer callback."""
from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from embedtune.errors import ConfigError
from embedtune.progress import ProgressLog, format_duration, progress_bar, progress_interval, track
from tests.fake_clock import FakeClock

LOGGER = "embedtune.test_progress"


def progress_log(clock: FakeClock, total: int | None = 816, **kwargs: object) -> ProgressLog:
    return ProgressLog("training", total, unit="step", interval=30.0, logger=logging.getLogger(LOGGER),
                       clock=clock, **kwargs)  # type: ignore[arg-type]


def test_the_line_says_what_runs_how_far_how_fast_and_what_is_left(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1000.0)
    log = progress_log(clock)
    clock.now += 51.95
    with caplog.at_level(logging.INFO, logger=LOGGER):
        log.update(120)
    # 120 steps / 51.95 s = 2.31 steps/s; 696 steps left / 2.31 = 301 s
    assert caplog.messages == ["training: step 120/816 (14.7%), 2.31 steps/s, ETA 5m01s"]


def test_lines_come_at_most_once_per_interval_and_at_least_once_per_interval_of_work(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1000.0)
    log = progress_log(clock, total=100)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(100):  # one step every 0.7 s: 70 s in all
            clock.now += 0.7
            log.update()
    # a line when the next step (0.7 s away) would land 30 s or more after the last line: after steps
    # 42 (29.4 s) and 84 (58.8 s), so no gap between lines exceeds 30 s
    assert caplog.messages == ["training: step 42/100 (42.0%), 1.43 steps/s, ETA 41s",
                               "training: step 84/100 (84.0%), 1.43 steps/s, ETA 11s"]


def test_a_loop_shorter_than_the_interval_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1000.0)
    log = progress_log(clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(816):
            clock.now += 0.03
            log.update()
    assert caplog.messages == []


def test_a_resumed_run_counts_only_its_own_steps_in_the_rate(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1000.0)
    log = progress_log(clock, total=1000, initial=500)
    clock.now += 100
    with caplog.at_level(logging.INFO, logger=LOGGER):
        log.update(50)
    assert caplog.messages == ["training: step 550/1000 (55.0%), 0.50 steps/s, ETA 15m00s"]


def test_without_a_total_the_line_has_the_count_and_rate_but_no_eta() -> None:
    log = ProgressLog("mining", None, unit="query", interval=30.0, clock=FakeClock(1000.0))
    log.n = 3
    assert log.line(1000.0) == "mining: query 3, 0.003 queries/s"


@pytest.mark.parametrize(("seconds", "text"),
                         [(0.4, "0s"), (59.6, "1m00s"), (301.3, "5m01s"), (7380, "2h03m")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDTUNE_PROGRESS_INTERVAL", raising=False)
    assert progress_interval() == 30.0
    monkeypatch.setenv("EMBEDTUNE_PROGRESS_INTERVAL", "2.5")
    assert ProgressLog("encoding", 10).interval == 2.5
    monkeypatch.setenv("EMBEDTUNE_PROGRESS_INTERVAL", "soon")
    with pytest.raises(ConfigError) as exc:
        progress_interval()
    assert str(exc.value) == 'EMBEDTUNE_PROGRESS_INTERVAL must be a number of seconds >= 0, got "soon"'


def test_a_bar_on_a_terminal_and_a_log_elsewhere(caplog: pytest.LogCaptureFixture,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm.auto import tqdm

    bar = progress_bar(3, "encoding", "text", show_bar=True)
    assert isinstance(bar, tqdm)
    bar.close()
    monkeypatch.setenv("EMBEDTUNE_PROGRESS_INTERVAL", "0")  # every update logs
    with caplog.at_level(logging.INFO, logger="embedtune.progress"):
        assert list(track(["a", "b"], "doc2query", "batch", show_bar=False)) == ["a", "b"]
    assert [m.split(",")[0] for m in caplog.messages] == ["doc2query: batch 1/2 (50.0%)",
                                                          "doc2query: batch 2/2 (100.0%)"]


def test_the_trainer_callback_logs_optimizer_steps_of_this_run(caplog: pytest.LogCaptureFixture) -> None:
    from embedtune.training.progress_log import LogProgressCallback, progress_callbacks

    assert progress_callbacks(True) == []
    assert [type(c) for c in progress_callbacks(False)] == [LogProgressCallback]
    clock = FakeClock(1000.0)
    callback = LogProgressCallback(interval=30.0, clock=clock)
    state = SimpleNamespace(global_step=200, max_steps=816, is_world_process_zero=True)
    with caplog.at_level(logging.INFO, logger="embedtune.training.progress_log"):
        callback.on_train_begin(None, state, None)  # resumed at step 200
        for _ in range(60):  # 2 s a step
            clock.now += 2.0
            state.global_step += 1
            callback.on_step_end(None, state, None)
    assert caplog.messages == ["training: step 214/816 (26.2%), 0.50 steps/s, ETA 20m04s",
                               "training: step 228/816 (27.9%), 0.50 steps/s, ETA 19m36s",
                               "training: step 242/816 (29.7%), 0.50 steps/s, ETA 19m08s",
                               "training: step 256/816 (31.4%), 0.50 steps/s, ETA 18m40s"]


def test_only_the_main_process_logs(caplog: pytest.LogCaptureFixture) -> None:
    from embedtune.training.progress_log import LogProgressCallback

    clock = FakeClock(1000.0)
    callback = LogProgressCallback(interval=0.0, clock=clock)
    state = SimpleNamespace(global_step=0, max_steps=10, is_world_process_zero=False)
    with caplog.at_level(logging.INFO, logger="embedtune.training.progress_log"):
        callback.on_train_begin(None, state, None)
        clock.now += 5
        state.global_step = 5
        callback.on_step_end(None, state, None)
    assert caplog.messages == []


def test_a_real_trainer_without_bars_logs_its_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    import torch
    from transformers import Trainer, TrainingArguments

    from embedtune.training.progress_log import progress_callbacks

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
            return {"loss": ((self.linear(x).squeeze(-1) - labels) ** 2).mean()}

    rows = [{"x": torch.ones(2), "labels": torch.tensor(1.0)}] * 8
    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=2, max_steps=3,
                             report_to=[], disable_tqdm=True, use_cpu=True, save_strategy="no",
                             logging_strategy="no")
    monkeypatch.setenv("EMBEDTUNE_PROGRESS_INTERVAL", "0")  # a line at every step
    trainer = Trainer(model=Tiny(), args=args, train_dataset=rows,
                      callbacks=progress_callbacks(show_progress=False))
    with caplog.at_level(logging.INFO, logger="embedtune.training.progress_log"):
        trainer.train()
    lines = [r.getMessage() for r in caplog.records if r.name == "embedtune.training.progress_log"]
    assert [line.split(",")[0] for line in lines] == [
        "training: step 1/3 (33.3%)", "training: step 2/3 (66.7%)", "training: step 3/3 (100.0%)"]
    assert all(" steps/s, ETA " in line for line in lines)


def test_a_loop_that_starts_after_another_keeps_the_logs_pace(caplog: pytest.LogCaptureFixture) -> None:
    """The dev evaluation's encoding inside training: it logs 30 s after training's last line, not 30 s
    after it started (a 39 s silent gap in a logged demo run)."""
    clock = FakeClock(0.0)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        training = progress_log(clock, total=100)
        for _ in range(10):
            clock.now += 3.0
            training.update(1)  # a line at 27 s (the next step would land at 30 s)
        encoding = ProgressLog("encoding", 600, unit="text", interval=30.0, logger=logging.getLogger(LOGGER),
                               clock=clock)
        for _ in range(40):
            clock.now += 1.0
            encoding.update(15)
    assert [m.split(":")[0] for m in caplog.messages] == ["training", "encoding"]
    # at 56 s (the next update, 1 s away, would be 30 s after training's line at 27 s), 26 s into encoding
    assert caplog.messages[1].startswith("encoding: text 390/600"), caplog.messages
