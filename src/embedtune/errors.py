"""Errors that reach users as one line: what is wrong, the value seen, where, and what to do.

Every check on user input raises a subclass of :class:`EmbedtuneError`; the CLI prints its
message on one line and exits 1 (``EMBEDTUNE_DEBUG=1`` shows the traceback).
"""
from __future__ import annotations

from pathlib import Path


class EmbedtuneError(Exception):
    """Base class for every error caused by input the user can fix."""


class DataError(EmbedtuneError):
    """A data file is malformed; the message names the file and, when known, the line."""

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        where = f"{path} line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


class ConfigError(EmbedtuneError):
    """A setting (flag or YAML key) has a value embedtune cannot use."""


class ModelNotFoundError(EmbedtuneError):
    """A model path or id cannot be loaded."""


class OutputExistsError(EmbedtuneError):
    """An output directory already holds files and ``--overwrite`` was not given."""


class MissingDependencyError(EmbedtuneError):
    """A feature needs an optional package that is not installed; the message names the extra to install."""


class OutputWriteError(EmbedtuneError):
    """An output cannot be written where it was asked for: a file in the way, no write permission, a full disk."""

    @classmethod
    def from_os_error(cls, path: str | Path, exc: OSError, flag: str | None = "--out") -> OutputWriteError:
        """``exc`` (raised while writing ``path``) as one line that names the file and what to do.

        ``flag`` names the option that chose ``path``; None when the writer cannot know it.
        """
        import errno

        reason = exc.strerror or type(exc).__name__
        advice = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "check the path"
        where = f"choose another {flag}" if flag else "write elsewhere"
        return cls(f'cannot write "{path}": {reason}; {advice} or {where}')


class OnnxUnavailableError(EmbedtuneError):
    """The ONNX path cannot serve this model or this installation."""
