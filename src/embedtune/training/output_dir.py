"""The training output folder: refuse to clobber, resume what was interrupted, finish atomically."""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from embedtune._io import claim, make_readable, write_json_atomic
from embedtune._owned import check_clearable, clear_owned_folder, create_owned_folder, foreign_entries, is_empty
from embedtune.errors import OutputExistsError

logger = logging.getLogger(__name__)

RUN_FILE = "embedtune_run.json"  # written at start: the settings an interrupted run resumes with
RESULT_FILE = "embedtune_train.json"  # written last: its presence means the run finished
CHECKPOINTS = "checkpoints"
RECIPE_DIR = "recipe"  # --recipe auto's candidate runs and its choice, until the run finishes
# settings a resumed run may change: they decide when work is saved, not what is trained
RESUMABLE_CHANGES = frozenset({"save_every_minutes", "gradient_checkpointing"})


COMPLETE = "trainer_state.json"  # the Trainer writes it last: a checkpoint without it was cut off mid-save


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint: one a kill interrupted while it was being written is skipped."""
    folder = out / CHECKPOINTS
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    complete = [p for p in found if _is_complete(p)]
    if len(complete) < len(found):
        logger.info("skipping %d checkpoint(s) cut off while being saved", len(found) - len(complete))
    return max(complete, key=lambda p: int(p.name.split("-")[-1])) if complete else None


def _is_complete(checkpoint: Path) -> bool:
    try:
        json.loads((checkpoint / COMPLETE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def precheck_output_dir(out: Path, *, overwrite: bool) -> None:
    """Refuse, before any data or model is read, an ``out`` that :func:`open_output_dir` would refuse
    whatever the settings: a file, or (with ``overwrite``) a folder that may not be cleared."""
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f'output "{out}" is a file; give a folder path')
    if overwrite and out.is_dir() and not is_empty(out):
        check_clearable(out)


def open_output_dir(out: Path, settings: dict[str, Any], *, overwrite: bool, result_file: str = RESULT_FILE,
                    command: str = "embedtune train", defaults: dict[str, Any] | None = None) -> Path | None:
    """Make ``out`` ready; return the checkpoint to resume from, if an unfinished run left one.

    A finished run or an unfinished run with other settings is only replaced with ``overwrite``,
    and ``overwrite`` deletes only what embedtune wrote in a folder it made (``embedtune._owned``):
    a folder holding anything of the user's is refused, never cleared. ``result_file`` and
    ``command`` name the stage (train, pretrain) whose finished output the folder may hold.
    ``defaults`` lets a run started by an older embedtune resume: a setting its run file lacks
    matches when the current value is that setting's default (it did not exist, so it was off).
    """
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f'output "{out}" is a file; give a folder path')
    if out.is_dir() and not is_empty(out):
        if overwrite:
            clear_owned_folder(out)
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
        elif foreign_entries(out):
            raise OutputExistsError(f'"{out}" is not empty and was not made by {command}; choose another --out')
        else:
            raise OutputExistsError(f'"{out}" holds the output of another embedtune command; pass --overwrite '
                                    "to replace it or choose another --out")
    create_owned_folder(out, command)
    claim(out, CHECKPOINTS, RECIPE_DIR)  # the Trainer writes there
    write_json_atomic(out / RUN_FILE, {"settings": settings})
    return None


def _changed_settings(previous: dict[str, Any], current: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Names of the settings that differ between an interrupted run and this one."""
    missing = object()
    changed = []
    for key in sorted((set(previous) | set(current)) - RESUMABLE_CHANGES):
        before = previous.get(key, missing)
        if before is missing and key in defaults:
            before = defaults[key]
        if before != current.get(key, missing):
            changed.append(key)
    return changed


def publish_model(model: Any, out: Path) -> None:
    """Save the final model into ``out`` so a reader never sees a half-saved model.

    The model is written to a hidden sibling folder first and its files moved in by rename; each
    is listed as embedtune's in the folder's marker and gets the usual file mode.
    """
    staging = out / ".final-model"
    claim(out, staging.name)
    if staging.exists():
        shutil.rmtree(staging)
    model.save(str(staging))
    make_readable(staging)
    items = sorted(staging.iterdir())
    claim(out, *(item.name for item in items))
    for item in items:
        target = out / item.name
        if target.is_dir():
            shutil.rmtree(target)
        item.replace(target)
    staging.rmdir()


def finish(out: Path, result: dict[str, Any], result_file: str = RESULT_FILE) -> None:
    """Write the result marker and drop the checkpoints (the best one is now the model)."""
    write_json_atomic(out / result_file, result)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    shutil.rmtree(out / RECIPE_DIR, ignore_errors=True)
    (out / RUN_FILE).unlink(missing_ok=True)
