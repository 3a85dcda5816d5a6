"""Atomic file output: a reader never sees a half-written file, and a crash never truncates one."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _umasked(0o666))  # mkstemp makes 0600; a written file gets open()'s usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umasked(mode: int) -> int:
    """``mode`` less the process umask: what open()/mkdir() would have given (read, then restored)."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def check_output_folder(out: str | Path, *, overwrite: bool = False) -> None:
    """Fail before any slow work when ``out`` is a file, or a folder with files and no ``overwrite``."""
    from embedtune.errors import OutputExistsError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f'output "{out}" is a file; give a folder path')
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f'output folder "{out}" is not empty; pass --overwrite to replace it')


@contextmanager
def staged_directory(out: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty hidden sibling of ``out`` to fill; on success it is renamed to ``out``.

    A reader never sees a half-written export or index, a failure leaves ``out`` as it was, and
    a folder that already holds files is only replaced with ``overwrite``.
    """
    out = Path(out)
    check_output_folder(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    staging.chmod(_umasked(0o777))  # mkdtemp makes 0700; the published folder gets mkdir's usual mode
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
