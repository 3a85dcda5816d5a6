"""Progress for long loops: a tqdm bar on a terminal, otherwise a log line every ~30 s.

Without a terminal (nohup, CI, a job scheduler) the CLI turns bars off, because a bar there
becomes thousands of lines; but a run that prints nothing for minutes looks hung. So where a bar
would show, :func:`progress_bar` gives a :class:`ProgressLog` instead, which logs one INFO line
(``training: step 120/816 (14.7%), 2.31 steps/s, ETA 5m01s``) at most every
``EMBEDTUNE_PROGRESS_INTERVAL`` seconds (default 30). ``--quiet`` and JSON output raise the log
level to WARNING, which silences these lines with the rest.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from embedtune.errors import ConfigError

INTERVAL_ENV = "EMBEDTUNE_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 30.0

_T = TypeVar("_T")
_logger = logging.getLogger(__name__)
# Steps vary (a busy machine, a dev evaluation): the next one is assumed to take up to 1.5 times the last
JITTER = 1.5
# clock -> when the last progress line was written with it (all progress logs of a run share the pace)
_LAST_LINE: dict[Callable[[], float], float] = {}


def progress_interval() -> float:
    """Seconds between progress lines: ``EMBEDTUNE_PROGRESS_INTERVAL``, else 30."""
    raw = os.environ.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL
    try:
        interval = float(raw)
    except ValueError:
        interval = math.nan
    if not interval >= 0 or math.isinf(interval):
        raise ConfigError(f'{INTERVAL_ENV} must be a number of seconds >= 0, got "{raw}"')
    return interval


class ProgressLog:
    """Counts work done and logs ``desc: unit n/total (pct), rate, ETA`` at most every ``interval`` seconds.

    Nothing is logged before the first ``interval`` has passed, so short loops stay silent.
    ``initial`` is work already done before this run (a resumed training): it counts towards
    ``n/total`` but not towards the rate. ``clock`` is there for tests.
    """

    def __init__(self, desc: str, total: int | None = None, *, unit: str = "item", initial: int = 0,
                 interval: float | None = None, logger: logging.Logger | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.desc = desc
        self.total = total
        self.unit = unit
        self.n = initial
        self.interval = progress_interval() if interval is None else interval
        self.logger = logger or _logger
        self._clock = clock
        self._initial = initial
        self._start = self._previous = clock()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; log when the next update would come ``interval`` or more after the last line.

        The last line is the last one *any* progress log wrote with this clock, so a loop that starts
        after another (the dev evaluation inside training) keeps the log's pace instead of starting its
        own interval; judging by the next update, not this one, keeps the gap at or under ``interval``.
        """
        self.n += n
        now = self._clock()
        step, self._previous = now - self._previous, now
        last = _LAST_LINE.get(self._clock, self._start)
        if now - last + JITTER * step >= self.interval:
            _LAST_LINE[self._clock] = now
            self.logger.info("%s", self.line(now - self._start))

    def line(self, elapsed: float) -> str:
        """The progress record after ``elapsed`` seconds, e.g. ``encoding: text 320/1000 (32.0%), ...``."""
        rate = (self.n - self._initial) / elapsed if elapsed > 0 else 0.0
        count = f"{self.n}/{self.total} ({100 * self.n / self.total:.1f}%)" if self.total else str(self.n)
        text = f"{self.desc}: {self.unit} {count}, {_rate(rate)} {_plural(self.unit)}/s"
        if self.total and rate > 0:
            text += f", ETA {format_duration(max(self.total - self.n, 0) / rate)}"
        return text

    def close(self) -> None:
        """Nothing to flush; here so that a loop can treat this like a tqdm bar."""

    def __enter__(self) -> ProgressLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_bar(total: int | None, desc: str, unit: str, *, show_bar: bool,
                 logger: logging.Logger | None = None) -> Any:
    """A tqdm bar when ``show_bar`` (a terminal), else a :class:`ProgressLog`; both are context managers."""
    if show_bar:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit)
    return ProgressLog(desc, total, unit=unit, logger=logger)


def track(items: Iterable[_T], desc: str, unit: str, *, show_bar: bool, total: int | None = None,
          logger: logging.Logger | None = None) -> Iterator[_T]:
    """Yield ``items``, counting each one on a bar or a :class:`ProgressLog` (see :func:`progress_bar`)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(total, desc, unit, show_bar=show_bar, logger=logger) as bar:
        for item in items:
            yield item
            bar.update(1)


def format_duration(seconds: float) -> str:
    """``45s``, ``5m01s``, ``2h03m``: short enough for a log line, exact enough for an ETA."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _plural(unit: str) -> str:
    return unit[:-1] + "ies" if unit.endswith("y") and unit[-2:-1] not in "aeiou" else unit + "s"


def _rate(rate: float) -> str:
    # two decimals hide a slow loop's rate (0.004 steps/s); two significant digits do not
    return f"{rate:.2f}" if rate >= 0.1 else f"{rate:.2g}"
