"""Atomic file output: a reader never sees a half-written file, and a crash never truncates one.

Every file written here into a folder embedtune made (one holding :data:`MARKER`) is also listed
in that marker, so ``--overwrite`` later knows it as embedtune's (see :mod:`embedtune._owned`).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embedtune.errors import OutputWriteError

MARKER = ".embedtune-owned.json"  # in a folder embedtune made: who made it and what it wrote there


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputWriteError.from_os_error(path, exc, flag=None) from exc
    try:
        os.fchmod(fd, umasked(0o666))  # mkstemp makes 0600; a written file gets open()'s usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, a lost permission: one line naming the file, nothing half-written
        Path(tmp).unlink(missing_ok=True)
        raise OutputWriteError.from_os_error(path, exc, flag=None) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if path.name != MARKER:
        _claim_in_owner(path)


def claim(folder: str | Path, *names: str) -> None:
    """List ``names`` (entries of ``folder``) in its marker as written by embedtune; no-op without one.

    For what another library writes into an embedtune folder: a Trainer checkpoint, a saved model.
    """
    folder = Path(folder)
    marker_path = folder / MARKER
    try:
        marker = json.loads(marker_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    entries = list(marker.get("entries", []))
    new = [n for n in names if n not in entries and n != MARKER]
    if new:
        write_json_atomic(marker_path, {**marker, "entries": entries + new})


def _claim_in_owner(path: Path) -> None:
    """Claim ``path``'s top-level entry in the nearest folder above it that embedtune made."""
    child = path
    for folder in path.parents:
        if (folder / MARKER).is_file():
            claim(folder, child.name)
            return
        child = folder


def make_readable(tree: str | Path) -> None:
    """Give every file under ``tree`` the mode ``open()`` would have (0644 under umask 022).

    Some writers (safetensors, torch.save through a temporary file) leave model weights at 0600, so a
    model folder copied to a server that runs as another user could not be read.
    """
    tree = Path(tree)
    file_mode, dir_mode = umasked(0o666), umasked(0o777)
    paths = [tree, *tree.rglob("*")] if tree.is_dir() else [tree]
    for p in paths:
        if p.is_symlink():
            continue
        wanted = dir_mode if p.is_dir() else file_mode
        if p.stat().st_mode & 0o777 != wanted:
            p.chmod(wanted)


def umasked(mode: int) -> int:
    """``mode`` less the process umask: what open()/mkdir() would have given (read, then restored)."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def write_json_atomic(path: str | Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
