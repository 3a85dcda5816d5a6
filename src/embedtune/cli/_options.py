"""Options shared by several subcommands, and the logging / progress set-up they imply."""
from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

model_option = click.option(
    "--model", "-m", default=None, envvar="EMBEDTUNE_MODEL", show_envvar=True,
    help="Model: local folder or Hugging Face id [default: all-MiniLM-L6-v2, installed offline].")
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Only print results: no progress bars or log lines.")
batch_size_option = click.option("--batch-size", type=click.IntRange(min=1), default=32,
                                 help="Texts per encoding batch.")
max_seq_length_option = click.option("--max-seq-length", type=click.IntRange(min=8), default=None,
                                     help="Tokens kept per text [default: the model's own].")
no_cache_option = click.option("--no-cache", is_flag=True,
                               help="Do not read or write the corpus-embedding cache (EMBEDTUNE_CACHE_DIR).")


def settings_help(command: click.Command, settings: type, skip: tuple[str, ...] = ()) -> None:
    """Give each option of ``command`` that sets a field of the ``settings`` dataclass that field's help.

    The text lives once, in the field's metadata (``help``, and ``default`` for the ``[default: X]``
    note), so ``--help``, the YAML reference (docs/configuration.md) and the code cannot disagree.
    Options named in ``skip`` keep their own help; of a pair setting one field (``--x``/``--no-x``)
    the first gets the field's."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(settings)}
    done: set[str] = set(skip)
    for param in command.params:
        if param.param_type_name == "option" and param.name in fields and param.name not in done:  # any Option class
            done.add(param.name)
            meta = fields[param.name].metadata
            param.help = meta["help"] + (f" [default: {meta['default']}]." if "default" in meta else "")


def data_option(help_text: str, *, old: str | None = None, old_short: str | None = None) -> Callable[[Any], Any]:
    """``--data``, the one name for input data in every command; ``old`` (its former spelling) is kept
    as a hidden alias for one release. Resolve the two with :func:`given_data`."""
    decorators = [click.option("--data", "data", type=click.Path(), default=None,
                               help=help_text + " (required)")]
    if old:
        names = [old, old_short] if old_short else [old]
        decorators.append(click.option(*names, "data_alias", type=click.Path(), default=None,
                                       hidden=True))
    return compose(*decorators)


def given_data(data: str | None, alias: str | None = None, *, old: str = "",
               positional: str | None = None) -> str:
    """The input data, given as ``--data``, under its old name (with a deprecation note) or positionally."""
    given = [value for value in (data, alias, positional) if value]
    if not given:
        raise click.UsageError("Missing option '--data'.")
    if len(set(given)) > 1:
        raise click.UsageError(f"the input data is given twice ({' and '.join(given)}): "
                               "give it once, as --data")
    if alias:
        click.echo(f"embedtune: note: {old} is now --data; {old} still works in this release", err=True)
    return given[0]


def model_argument(help_text: str) -> Callable[[Any], Any]:
    """A model read as a positional MODEL or as ``--model`` (the name every other command uses)."""
    return compose(click.argument("model", required=False),
                   click.option("--model", "-m", "model_flag", default=None, help=help_text))


def given_model(positional: str | None, flag: str | None) -> str:
    if positional and flag and positional != flag:
        raise click.UsageError(f"the model is given twice ({positional} and --model {flag}): give it once")
    if not (positional or flag):
        raise click.UsageError("Missing argument 'MODEL' (or --model).")
    return positional or flag  # type: ignore[return-value]


def json_option(what: str) -> Callable[[Any], Any]:
    """``--json FILE`` in every command: write ``what`` as JSON to FILE; ``--json`` alone or ``--json -``
    prints it on stdout."""
    return click.option("--json", "json_target", is_flag=False, flag_value="-", default=None,
                        metavar="FILE",
                        help=f"Write {what} as JSON to FILE; '-' or no FILE: print it on stdout.")


def check_json_target(target: str | None) -> None:
    """Refuse an unwritable --json FILE before any work is done."""
    if target and target != "-":
        from embedtune._writable import check_writable

        check_writable(target, "--json")


def emit_json(payload: Any, target: str | None) -> bool:
    """Print ``payload`` on stdout (``-``) or write it to the file ``target`` atomically (``None``: neither).

    Returns True when it went to stdout: the command then prints nothing else, so stdout stays JSON.
    """
    import json

    if target == "-":
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))  # as the file gets it
        return True
    if target:
        from embedtune._io import write_json_atomic

        write_json_atomic(target, payload)
    return False


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
