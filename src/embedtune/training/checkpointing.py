"""Checkpoints on a clock as well as at dev evaluations, and a clean stop on Ctrl-C / SIGTERM.

Checkpoints at dev evaluations alone can be an epoch apart (7.5 minutes before the first one on a
slow machine): a kill before it lost everything. :class:`CheckpointCallback` also saves when
``minutes`` have passed since the last save, and at each step's end stops the run if a signal
is waiting (``embedtune.interrupts``); a rerun resumes from the newest complete checkpoint. Under
torchrun every process takes both decisions together (one all-reduce per step), since a process
that saved or stopped alone would leave the others waiting in a collective.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from transformers import TrainerCallback

from embedtune._io import make_readable
from embedtune.interrupts import deferred_interrupts, pending, raise_pending

logger = logging.getLogger(__name__)


class CheckpointCallback(TrainerCallback):
    """Save every ``minutes`` of training (0: never on the clock); stop at a step boundary on a signal."""

    def __init__(self, minutes: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = minutes * 60
        self.clock = clock
        self.last_save = clock()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.last_save = self.clock()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        due = self.seconds > 0 and self.clock() - self.last_save >= self.seconds
        due, signum = _agree(due, pending())
        if signum:
            raise_pending(signum)
        if due and not control.should_save:
            logger.info("step %d: %g minutes since the last checkpoint, saving one", state.global_step,
                        self.seconds / 60)
            control.should_save = True

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.last_save = self.clock()
        folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if os.path.isdir(folder):
            make_readable(folder)  # safetensors and torch.save leave 0600


def run_training(trainer: Any, resume: str | os.PathLike[str] | None) -> None:
    """``trainer.train``, resumed from ``resume`` if given, with Ctrl-C / SIGTERM held to a step boundary."""
    with deferred_interrupts():
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)


def _agree(due: bool, signum: int | None) -> tuple[bool, int | None]:
    """Under torch.distributed, whether any process is due to save and the signal any process holds."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return due, signum
    import torch

    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    flags = torch.tensor([int(due), signum or 0], dtype=torch.int64, device=device)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return bool(flags[0]), int(flags[1]) or None
