"""Running under ``torchrun`` / ``accelerate launch``: who the main process is, and waiting for it.

embedtune has no launcher of its own: DDP comes from the engine that starts the processes. What
this module adds is the small amount of care a training *run* needs on top of DDP: only the main
process touches the output folder, scores the held-out split and publishes the model, and the
others wait for it at the points where they must see what it wrote.
"""
from __future__ import annotations

import os


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
