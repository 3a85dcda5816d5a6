"""Options shared by several subcommands, and the logging / progress set-up they imply."""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

model_option = click.option(
    "--model", "-m", default=None, envvar="EMBEDTUNE_MODEL", show_envvar=True,
    help="Model: local folder or Hugging Face id. Default: all-MiniLM-L6-v2 (installed offline).")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Only print results: no progress bars or log lines.")
batch_size_option = click.option("--batch-size", type=click.IntRange(min=1), default=None,
                                 help="Texts per encoding/training batch.")
max_seq_length_option = click.option("--max-seq-length", type=click.IntRange(min=8), default=None,
                                     help="Tokens kept per text (default: the model's own).")
no_cache_option = click.option("--no-cache", is_flag=True,
                               help="Do not read or write the corpus-embedding cache (EMBEDTUNE_CACHE_DIR).")


def compose(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func
    return apply


def setup_output(quiet: bool, inference: bool = False) -> bool:
    """Configure logging for a command; return whether to show progress bars.

    Bars only make sense on a terminal: in a pipe or a CI log they become thousands of lines.
    ``inference`` (commands that encode but never train) also keeps freed activation buffers from
    piling up in the heap (``embedtune.inference.memory``).
    """
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S", force=True)
    for noisy in ("httpx", "urllib3", "huggingface_hub", "datasets", "filelock", "bm25s", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import os

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if inference:
        from embedtune.inference.memory import return_freed_buffers

        return_freed_buffers()
    show = not quiet and sys.stderr.isatty()
    if not show:
        _bars_off()
        _silence_imported_bars()
    return show


def quiet_bars_off_a_terminal() -> None:
    """Before any command imports a library that reads the switches at import (tqdm, huggingface_hub):
    off a terminal, progress bars become thousands of log lines."""
    if not sys.stderr.isatty():
        _bars_off()


def _bars_off() -> None:
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")


def _silence_imported_bars() -> None:
    """The environment switches are read at import: a command that imported the Hugging Face
    libraries before this call needs their runtime switches too (without importing them here)."""
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
