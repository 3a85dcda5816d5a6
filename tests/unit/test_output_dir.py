"""The training output folder: what may resume, what must be refused."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedtune.errors import OutputExistsError
from embedtune.training.output_dir import CHECKPOINTS, RUN_FILE, open_output_dir


def _interrupted(out: Path, settings: dict) -> Path:
    out.mkdir()
    (out / RUN_FILE).write_text(json.dumps({"settings": settings}), encoding="utf-8")
    for step in (26, 52):
        (out / CHECKPOINTS / f"checkpoint-{step}").mkdir(parents=True)
        (out / CHECKPOINTS / f"checkpoint-{step}" / "trainer_state.json").write_text("{}", encoding="utf-8")
    return out / CHECKPOINTS / "checkpoint-52"


def test_a_checkpoint_cut_off_mid_save_is_not_resumed_from(tmp_path: Path) -> None:
    """A kill while the Trainer writes checkpoint-78 leaves it without trainer_state.json (written last)."""
    checkpoint = _interrupted(tmp_path / "run", {"seed": 42})
    (tmp_path / "run" / CHECKPOINTS / "checkpoint-78").mkdir()
    (tmp_path / "run" / CHECKPOINTS / "checkpoint-78" / "model.safetensors").write_bytes(b"half")
    assert open_output_dir(tmp_path / "run", {"seed": 42}, overwrite=False) == checkpoint


def test_same_settings_resume_from_the_latest_checkpoint(tmp_path: Path) -> None:
    checkpoint = _interrupted(tmp_path / "run", {"seed": 42})
    assert open_output_dir(tmp_path / "run", {"seed": 42}, overwrite=False) == checkpoint


def test_a_setting_added_since_the_run_started_resumes_at_its_default(tmp_path: Path) -> None:
    """A run started by an older embedtune lacks newer settings; at their defaults nothing changed."""
    checkpoint = _interrupted(tmp_path / "run", {"seed": 42})
    now = {"seed": 42, "sampling": "proportional"}
    assert open_output_dir(tmp_path / "run", now, overwrite=False, defaults={"sampling": "proportional"}) == checkpoint


def test_a_new_setting_away_from_its_default_is_a_change(tmp_path: Path) -> None:
    _interrupted(tmp_path / "run", {"seed": 42})
    with pytest.raises(OutputExistsError, match=r"\(sampling differ\)"):
        open_output_dir(tmp_path / "run", {"seed": 42, "sampling": "round_robin"}, overwrite=False,
                        defaults={"sampling": "proportional"})


def test_without_defaults_a_missing_setting_is_a_change(tmp_path: Path) -> None:
    _interrupted(tmp_path / "run", {"seed": 42})
    with pytest.raises(OutputExistsError, match=r"\(sampling differ\)"):
        open_output_dir(tmp_path / "run", {"seed": 42, "sampling": "proportional"}, overwrite=False)


def test_a_changed_setting_is_named(tmp_path: Path) -> None:
    _interrupted(tmp_path / "run", {"seed": 42, "epochs": 3})
    with pytest.raises(OutputExistsError, match=r"\(seed differ\)"):
        open_output_dir(tmp_path / "run", {"seed": 7, "epochs": 3}, overwrite=False, defaults={"seed": 42})
