"""Output folders embedtune made, and what ``--overwrite`` may delete in them.

A folder embedtune creates for its output gets a marker file, ``.embedtune-owned.json``, that
names the command which made it and lists the top-level entries embedtune wrote there (files
written through :mod:`embedtune._io` are listed as they are written; files another library
writes, such as Trainer checkpoints or a saved model, are listed by :func:`claim`).

``--overwrite`` deletes only those listed entries, and only in a folder with a marker that holds
nothing else: a folder embedtune never made, or one where the user put files of their own, is
refused with the names of up to five of those files. The current directory (or a folder above
it), the home directory and a filesystem root are refused whatever they hold: no mistyped
``--out`` may cost a user their files.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from embedtune._io import MARKER, claim, make_readable, umasked, write_json_atomic
from embedtune.errors import OutputExistsError

logger = logging.getLogger(__name__)

__all__ = ["MARKER", "check_clearable", "check_output_folder", "claim", "clear_owned_folder",
           "create_owned_folder", "foreign_entries", "is_empty", "made_by", "staged_directory"]

SHOWN = 5  # foreign entries named in a refusal


def create_owned_folder(out: Path, command: str) -> None:
    """Make ``out`` (absent or empty) and mark it as ``command``'s output.

    An empty folder that already exists is taken over: nothing of the user's can be in it.
    """
    from embedtune import __version__

    out.mkdir(parents=True, exist_ok=True)
    if (out / MARKER).is_file():
        return
    write_json_atomic(out / MARKER, {"created_by": command, "embedtune_version": __version__, "entries": []})


def made_by(out: Path) -> str | None:
    """The command whose marker ``out`` holds, or None for a folder embedtune did not make."""
    marker = _read_marker(out)
    return marker.get("created_by") if marker else None


def is_empty(out: Path) -> bool:
    """True when ``out`` holds nothing, or nothing but an empty marker (a cleared folder)."""
    return not any(p.name != MARKER for p in out.iterdir())


def foreign_entries(out: Path) -> list[Path]:
    """Entries in ``out`` embedtune did not write, looking into owned subfolders (a demo's model)."""
    marker = _read_marker(out)
    if marker is None:
        return sorted(out.iterdir())
    owned = set(marker.get("entries", [])) | {MARKER}
    found: list[Path] = []
    for entry in sorted(out.iterdir()):
        if entry.name not in owned:
            found.append(entry)
        elif entry.is_dir() and not entry.is_symlink() and (entry / MARKER).is_file():
            found.extend(foreign_entries(entry))
    return found


def check_clearable(out: Path, flag: str = "--overwrite") -> None:
    """Raise unless ``flag`` may clear ``out``: a folder embedtune made that holds only its own files."""
    out = Path(out)
    protected = _protected_reason(out)
    if protected:
        raise OutputExistsError(f'{flag} refuses to clear "{out}": it is {protected}; choose another --out')
    foreign = foreign_entries(out)
    if not foreign:
        return
    names = ", ".join(str(p.relative_to(out)) for p in foreign[:SHOWN])
    more = f" and {len(foreign) - SHOWN} more" if len(foreign) > SHOWN else ""
    if _read_marker(out) is None:
        raise OutputExistsError(f'{flag} refuses to clear "{out}": embedtune did not make this folder '
                                f"(it holds {names}{more}); choose another --out")
    raise OutputExistsError(f'{flag} refuses to clear "{out}": it holds files embedtune did not write '
                            f"({names}{more}); move them away or choose another --out")


def clear_owned_folder(out: Path, flag: str = "--overwrite") -> None:
    """Delete the entries embedtune wrote in ``out`` after :func:`check_clearable` allows it.

    The marker stays (emptied), so the folder is still known as embedtune's.
    """
    check_clearable(out, flag)
    marker = _read_marker(out) or {}
    logger.info("%s: clearing what embedtune wrote in %s", flag, out)
    for name in marker.get("entries", []):
        entry = out / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()
    write_json_atomic(out / MARKER, {**marker, "entries": []})


def _read_marker(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _protected_reason(out: Path) -> str | None:
    """Why ``out`` may never be cleared, or None."""
    target = out.resolve()
    cwd = Path.cwd().resolve()
    if target == Path(target.anchor):
        return "a filesystem root"
    if target == Path.home().resolve():
        return "your home directory"
    if target == cwd:
        return "the current directory"
    if target in cwd.parents:
        return "a folder above the current directory"
    return None


def check_output_folder(out: str | Path, *, overwrite: bool = False) -> None:
    """Fail before any slow work when ``out`` is a file, or a folder with files that may not be replaced.

    With ``overwrite`` only a folder embedtune made, holding nothing but its own files, is replaced.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f'output "{out}" is a file; give a folder path')
    if out.is_dir() and not is_empty(out):
        if not overwrite:
            raise OutputExistsError(f'output folder "{out}" is not empty; pass --overwrite to replace it')
        check_clearable(out)


@contextmanager
def staged_directory(out: str | Path, *, overwrite: bool = False, command: str = "embedtune") -> Iterator[Path]:
    """Yield an empty hidden sibling of ``out`` to fill; on success it is renamed to ``out``.

    A reader never sees a half-written export or index, a failure leaves ``out`` as it was, and
    a folder that already holds files is only replaced with ``overwrite`` when embedtune made it
    and nothing but embedtune's files are in it. The published folder is marked as ``command``'s.
    """
    out = Path(out)
    check_output_folder(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    staging.chmod(umasked(0o777))  # mkdtemp makes 0700; the published folder gets mkdir's usual mode
    try:
        yield staging
        create_owned_folder(staging, command)
        claim(staging, *(p.name for p in staging.iterdir()))
        make_readable(staging)
        check_output_folder(out, overwrite=overwrite)  # again: files may have arrived while it was filled
        if out.exists():
            _replace_folder(staging, out)
        else:
            os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _replace_folder(new: Path, out: Path) -> None:
    """Swap ``new`` in for ``out`` (already checked to hold only embedtune's files) by two renames."""
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()
    os.replace(out, old)
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)
