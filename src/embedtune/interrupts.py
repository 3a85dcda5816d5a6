"""Ctrl-C and SIGTERM: stop at a safe point, say how to resume, exit 130 / 143.

Outside training a signal stops the command at once (:class:`Interrupted`, a ``BaseException``
so no ``except Exception`` swallows it; atomic writes clean up their temporary file). During
training, :func:`deferred_interrupts` holds the signal until the current optimiser step ends
(:func:`pending`, checked by the Trainer callback in ``embedtune.training.checkpointing``), so
no step is left half-applied; a step that runs longer than :data:`GRACE_SECONDS`, or a second
signal, stops at once. Either way the last complete checkpoint is what a rerun resumes from.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

GRACE_SECONDS = 5.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)
MESSAGE = "interrupted — rerun the same command to resume"


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived; ``exit_code`` is the shell's convention for it (128 + signal)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"{signal.Signals(signum).name}: {MESSAGE}")
        self.signum = signum
        self.exit_code = 128 + signum


class _State:
    deferring = 0  # depth of deferred_interrupts blocks
    pending: int | None = None  # the signal held until the next step boundary
    timer: threading.Timer | None = None


_state = _State()


def install_handlers() -> None:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        signal.signal(signum, _handle)


def pending() -> int | None:
    """The signal waiting for a step boundary, if any."""
    return _state.pending


def raise_pending(signum: int | None = None) -> None:
    """At a step boundary: stop now if a signal is waiting (or ``signum`` says one arrived elsewhere)."""
    signum = signum or _state.pending
    if signum is None:
        return
    _cancel_timer()
    _state.pending = None
    raise Interrupted(signum)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the next :func:`raise_pending` (at most :data:`GRACE_SECONDS`).

    Installs the handlers for the block when called from the main thread, and restores the
    previous ones after, so a library caller gets the same behaviour as the CLI.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.getsignal(s) for s in SIGNALS} if main else {}
    if main:
        install_handlers()
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
        if not _state.deferring:
            _cancel_timer()
            _state.pending = None
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _handle(signum: int, frame: FrameType | None) -> None:
    if _state.deferring and _state.pending is None:
        _state.pending = signum
        # a real signal to the main thread (not _thread.interrupt_main) also ends a sleep or a blocking read
        timer = threading.Timer(GRACE_SECONDS, signal.pthread_kill, args=(threading.main_thread().ident, signum))
        timer.daemon = True
        _state.timer = timer
        timer.start()
        return
    # outside training, a second signal, or the grace period is over
    _cancel_timer()
    _state.pending = None
    raise Interrupted(signum)


def _cancel_timer() -> None:
    if _state.timer is not None:
        _state.timer.cancel()
        _state.timer = None
