"""Run the embedtune CLI with a filesystem fault a test cannot make for real: ``python faults.py FAULT FOLDER ARGS...``.

no-space: every ``os.fsync`` fails with ENOSPC, which is how a full disk reaches a program that
  writes through the page cache (``write`` succeeds, the flush to disk does not). Every atomic
  write (``embedtune._io``) syncs before its rename, so no output is published; a tmpfs of a few
  kilobytes would be the real thing but needs a mount, which needs privileges tests do not have.
read-only: FOLDER behaves as a folder of mode 0555 does for a user who does not own it: making,
  removing or renaming an entry in it fails with EACCES and ``os.access(..., W_OK)`` is false.
  Tests run as root here, and root writes into a 0555 folder regardless, so the test only uses
  this when it cannot use ``chmod`` (as another user it chmods FOLDER and runs the CLI plainly).
"""
from __future__ import annotations

import builtins
import errno
import io
import os
import sys


def no_space() -> None:
    def fsync(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    os.fsync = fsync


def read_only(folder: str) -> None:
    root = os.path.realpath(folder)

    def inside(path: object) -> bool:
        if isinstance(path, int):  # a file descriptor
            return False
        return os.path.realpath(os.fsdecode(path)).startswith(root + os.sep)  # type: ignore[arg-type]

    def deny(path: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))  # type: ignore[arg-type]

    def guard(func, *checked: int, writes=None):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            if (writes is None or writes(*args, **kwargs)) and any(inside(args[i]) for i in checked if i < len(args)):
                deny(next(args[i] for i in checked if inside(args[i])))
            return func(*args, **kwargs)
        return wrapper

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    os.open = guard(os.open, 0, writes=lambda path, flags, *a, **k: bool(flags & write_flags))
    opener = guard(io.open, 0, writes=lambda file, mode="r", *a, **k: any(c in mode for c in "wax+"))
    builtins.open = io.open = opener
    for name in ("mkdir", "rmdir", "unlink", "remove"):
        setattr(os, name, guard(getattr(os, name), 0))
    for name in ("rename", "replace"):
        setattr(os, name, guard(getattr(os, name), 0, 1))
    access = os.access

    def no_write_access(path, mode, *args, **kwargs):  # type: ignore[no-untyped-def]
        if mode & os.W_OK and (inside(path) or os.path.realpath(os.fsdecode(path)) == root):
            return False
        return access(path, mode, *args, **kwargs)

    os.access = no_write_access


if __name__ == "__main__":
    fault, folder, *args = sys.argv[1:]
    if fault == "no-space":
        no_space()
    elif fault == "read-only":
        read_only(folder)
    else:
        sys.exit(f"unknown fault {fault!r}")
    sys.argv = ["embedtune", *args]
    from embedtune.cli.app import main

    main()
