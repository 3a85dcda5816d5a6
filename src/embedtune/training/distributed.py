"""Running under ``torchrun`` / ``accelerate launch``: who the main process is, and waiting for it.

embedtune has no launcher of its own: DDP comes from the engine that starts the processes. What
this module adds is the small amount of care a training *run* needs on top of DDP: only the main
process touches the output folder, scores the held-out split and publishes the model, and the
others wait for it at the points where they must see what it wrote.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import TypeVar

from embedtune.errors import ConfigError

logger = logging.getLogger(__name__)

Config = TypeVar("Config")


def world_size() -> int:
    """How many processes torchrun / accelerate launched (1 when run directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_everyone() -> None:
    """A barrier across the launched processes (a no-op in a single process).

    Starting accelerate's shared state here sets up the same process group the trainer uses
    later (gloo on CPU, NCCL on GPUs), so the barrier and the trainer agree.
    """
    if world_size() <= 1:
        return
    from accelerate import PartialState

    PartialState().wait_for_everyone()


def fit_batch_to_rows(config: Config, rows: int, processes: int) -> Config:
    """``config`` with a batch size every process can fill from ``rows`` training rows.

    Each process takes ``batch_size`` rows per step; with fewer rows than batch_size x processes
    a process would get no full batch and the Trainer fails deep inside (its data loader has no
    length). The batch shrinks to what the rows allow, said in one line; below 2 rows a process
    there are no in-batch negatives left, so the run stops before any output folder is made.
    """
    batch = config.batch_size  # type: ignore[attr-defined]
    if rows >= batch * processes:
        return config
    fitted = rows // processes
    where = f" across {processes} processes" if processes > 1 else ""
    if fitted < 2:
        raise ConfigError(f"{rows} training rows are too few for batches of at least 2{where} (in-batch "
                          f"negatives need company): give more rows" + (" or fewer processes" if processes > 1 else ""))
    if is_main_process():
        logger.warning("%d training rows fill no batch of %d%s: training with batch_size %d", rows, batch, where,
                       fitted)
    return dataclasses.replace(config, batch_size=fitted)  # type: ignore[type-var]
