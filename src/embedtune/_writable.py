"""Can an output be written where it was asked for? Checked before any slow work, not after it."""
from __future__ import annotations

import os
from pathlib import Path

from embedtune.errors import OutputWriteError


def check_writable(out: str | Path, flag: str = "--out") -> None:
    """Refuse ``out`` (a file or folder to write) when a file stands where a folder above it should be,
    or when the folder it would be written in refuses writes.

    The folder checked is ``out`` itself when it is an existing folder (files go inside it), else the
    nearest existing folder above it (the one that would get the new entry). Root passes the
    permission check on any local folder, as it passes the kernel's.
    """
    out = Path(out)
    folder = out if out.is_dir() else out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputWriteError(f'cannot write "{out}": "{folder}" is a file, not a folder; choose another {flag}')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputWriteError(f'cannot write "{out}": no permission to write in "{folder}"; choose another {flag}')
