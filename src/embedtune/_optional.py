"""Imports of optional dependencies: a missing one is a one-line error naming the extra to install.

Each optional package belongs to an extra in pyproject.toml (``serve``, ``faiss``, ``onnx``, ``llm``,
``report``, ``qlora``). Without this, a user who skipped the extra gets a ModuleNotFoundError
traceback that does not say which extra brings the package in.
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from embedtune.errors import MissingDependencyError

# Where the package to install is not named like the module it provides.
_PIP_NAMES = {"faiss": "faiss-cpu"}


def _message(feature: str, extra: str, module: str | None, reason: str = "", alternative: str = "") -> str:
    """``embedtune serve needs fastapi, which is not installed: pip install 'embedtune[serve]'``.

    ``module`` is ``None`` when the package is installed but broken (a missing shared library, a
    version too old for a name embedtune imports): then ``reason`` says what failed.
    """
    if module is not None:
        package = _PIP_NAMES.get(module, module)
        message = f"{feature} needs {package}, which is not installed: pip install 'embedtune[{extra}]'"
    else:
        message = (f"{feature} cannot import its dependencies ({reason}): "
                   f"pip install --upgrade 'embedtune[{extra}]'")
    return message + (f", or {alternative}" if alternative else "")


@contextmanager
def optional_imports(extra: str, feature: str, *, alternative: str = "") -> Iterator[None]:
    """Turn an ImportError of the imports in the block into a :class:`MissingDependencyError`.

    ``feature`` is what the user asked for (``"embedtune serve"``), ``extra`` the pyproject extra
    that installs the block's packages, ``alternative`` what else the user could do instead.
    """
    try:
        yield
    except ImportError as exc:
        missing = exc.name.partition(".")[0] if isinstance(exc, ModuleNotFoundError) and exc.name else None
        if missing is not None and sys.modules.get(missing) is not None:
            missing = None  # the package is there but lacks a submodule: too old or broken, not absent
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise MissingDependencyError(_message(feature, extra, missing, first_line, alternative)) from exc


def require(module: str, extra: str, feature: str, *, alternative: str = "") -> ModuleType:
    """``import module`` for ``feature``, or a :class:`MissingDependencyError` naming ``extra``."""
    with optional_imports(extra, feature, alternative=alternative):
        return importlib.import_module(module)
