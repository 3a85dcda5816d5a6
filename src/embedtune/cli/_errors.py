"""Known errors become one line on stderr and exit 1; EMBEDTUNE_DEBUG=1 shows the traceback."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from embedtune.errors import EmbedtuneError
from embedtune.interrupts import MESSAGE, Interrupted, install_handlers


def debug_enabled() -> bool:
    return os.environ.get("EMBEDTUNE_DEBUG", "") not in ("", "0", "false")


def run_with_clean_errors(entry: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Run a click command; turn embedtune errors and interrupts into one-line messages.

    SIGINT and SIGTERM exit 130 and 143 with one line saying that the same command resumes
    (training holds them until its current step ends: ``embedtune.interrupts``).
    """
    install_handlers()
    try:
        entry(*args, standalone_mode=False, **kwargs)
    except Interrupted as exc:
        click.echo(f"embedtune: {MESSAGE}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:  # click's own prompts, or a KeyboardInterrupt raised outside our handler
        click.echo(f"embedtune: {MESSAGE}", err=True)
        return 130
    except click.UsageError as exc:  # a wrong flag or value: one line like ours, not click's four
        click.echo(usage_line(exc), err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except EmbedtuneError as exc:
        if debug_enabled():
            raise
        click.echo(f"embedtune: error: {exc}", err=True)
        click.echo("(set EMBEDTUNE_DEBUG=1 for the traceback)", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo(f"embedtune: {MESSAGE}", err=True)
        return 130
    return 0


def usage_line(exc: click.UsageError) -> str:
    """``embedtune: error: MESSAGE (see 'embedtune CMD --help')``: the flag and the problem, then where to look."""
    names, ctx = [], exc.ctx
    while ctx is not None and ctx.parent is not None:  # the root's name may be "python -m embedtune.cli.app"
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    message = " ".join(exc.format_message().split())
    return f"embedtune: error: {message} (see '{' '.join(['embedtune', *names])} --help')"


def exit_with(code: int) -> None:
    sys.exit(code)
