"""The training output folder: refuse to clobber, resume what was interrupted, finish atomically."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from embedtune._io import write_json_atomic
from embedtune.errors import OutputExistsError

logger = logging.getLogger(__name__)

RUN_FILE = "embedtune_run.json"  # written at start: the settings an interrupted run resumes with
RESULT_FILE = "embedtune_train.json"  # written last: its presence means the run finished
CHECKPOINTS = "checkpoints"


def latest_checkpoint(out: Path) -> Path | None:
    folder = out / CHECKPOINTS
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return max(found, key=lambda p: int(p.name.split("-")[-1])) if found else None


def open_output_dir(out: Path, settings: dict[str, Any], *, overwrite: bool, result_file: str = RESULT_FILE,
                    command: str = "embedtune train", defaults: dict[str, Any] | None = None) -> Path | None:
    """Make ``out`` ready; return the checkpoint to resume from, if an unfinished run left one.

    A finished run, a foreign folder, or an unfinished run with other settings is only replaced
    with ``overwrite``: a user's directory is never silently overwritten. ``result_file`` and
    ``command`` name the stage (train, pretrain) whose finished output the folder may hold.
    ``defaults`` lets a run started by an older embedtune resume: a setting its run file lacks
    matches when the current value is that setting's default (it did not exist, so it was off).
    """
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f'output "{out}" is a file; give a folder path')
    if out.is_dir() and any(out.iterdir()):
        if overwrite:
            logger.info("--overwrite: clearing %s", out)
            shutil.rmtree(out)
        elif (out / result_file).is_file():
            raise OutputExistsError(f'"{out}" already holds a finished model; pass --overwrite to replace it '
                                    "or choose another --out")
        elif (out / RUN_FILE).is_file():
            previous = json.loads((out / RUN_FILE).read_text(encoding="utf-8")).get("settings", {})
            changed = _changed_settings(previous, settings, defaults or {})
            if changed:
                raise OutputExistsError(
                    f'"{out}" holds an unfinished run with other settings ({", ".join(changed)} differ); '
                    "rerun with the same settings to resume, or pass --overwrite to start again")
            checkpoint = latest_checkpoint(out)
            if checkpoint is not None:
                logger.info("resuming the interrupted run in %s from %s", out, checkpoint.name)
            return checkpoint
        else:
            raise OutputExistsError(f'"{out}" is not empty and was not made by {command}; '
                                    "pass --overwrite to replace it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / RUN_FILE, {"settings": settings})
    return None


def _changed_settings(previous: dict[str, Any], current: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Names of the settings that differ between an interrupted run and this one."""
    missing = object()
    changed = []
    for key in sorted(set(previous) | set(current)):
        before = previous.get(key, missing)
        if before is missing and key in defaults:
            before = defaults[key]
        if before != current.get(key, missing):
            changed.append(key)
    return changed


def publish_model(model: Any, out: Path) -> None:
    """Save the final model into ``out`` so a reader never sees a half-saved model.

    The model is written to a hidden sibling folder first and its files moved in by rename.
    """
    staging = out / ".final-model"
    if staging.exists():
        shutil.rmtree(staging)
    model.save(str(staging))
    for item in staging.iterdir():
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        item.replace(target)
    staging.rmdir()


def finish(out: Path, result: dict[str, Any], result_file: str = RESULT_FILE) -> None:
    """Write the result marker and drop the checkpoints (the best one is now the model)."""
    write_json_atomic(out / result_file, result)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    (out / RUN_FILE).unlink(missing_ok=True)
