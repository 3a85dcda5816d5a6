"""A Trainer callback that logs training progress when there is no progress bar.

With ``disable_tqdm`` (no terminal) the Hugging Face Trainer says nothing between its sparse
loss logs, which the CLI keeps off stdout; a job log then shows nothing for minutes. This
callback logs ``training: step 120/816 (14.7%), 2.31 steps/s, ETA 5m01s`` at most every
``EMBEDTUNE_PROGRESS_INTERVAL`` seconds instead (see :mod:`embedtune.progress`).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

from embedtune.progress import ProgressLog

logger = logging.getLogger(__name__)


class LogProgressCallback(TrainerCallback):
    """Logs optimizer steps done of ``state.max_steps``, from the main process only.

    The rate counts only this run's steps, so a resumed run's ETA is not flattered by the
    checkpoint's steps. ``interval`` defaults to ``EMBEDTUNE_PROGRESS_INTERVAL`` or 30 s.
    """

    def __init__(self, desc: str = "training", *, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.desc = desc
        self.interval = interval
        self.clock = clock
        self.log: ProgressLog | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        self.log = ProgressLog(self.desc, state.max_steps or None, unit="step", initial=state.global_step,
                               interval=self.interval, logger=logger, clock=self.clock)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.log is not None:
            self.log.update(state.global_step - self.log.n)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.log = None


def progress_callbacks(show_progress: bool, desc: str = "training") -> list[LogProgressCallback]:
    """The callbacks a Trainer needs for progress: none when it shows its own bar."""
    return [] if show_progress else [LogProgressCallback(desc)]
