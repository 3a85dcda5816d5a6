"""Known errors become one line on stderr and exit 1; EMBEDTUNE_DEBUG=1 shows the traceback."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from embedtune.errors import EmbedtuneError


def debug_enabled() -> bool:
    return os.environ.get("EMBEDTUNE_DEBUG", "") not in ("", "0", "false")


def run_with_clean_errors(entry: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Run a click command; turn embedtune errors and interrupts into one-line messages."""
    try:
        entry(*args, standalone_mode=False, **kwargs)
    except click.exceptions.Abort:
        click.echo("embedtune: interrupted", err=True)
        return 130
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
        click.echo("embedtune: interrupted (rerun the same command to resume training)", err=True)
        return 130
    return 0


def exit_with(code: int) -> None:
    sys.exit(code)
