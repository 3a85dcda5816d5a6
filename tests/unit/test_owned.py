"""--overwrite deletes only what embedtune wrote, in a folder embedtune made."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from embedtune._io import claim, write_text_atomic
from embedtune._owned import (MARKER, check_output_folder, clear_owned_folder, create_owned_folder, is_empty,
                              staged_directory)
from embedtune.errors import OutputExistsError
from embedtune.training.output_dir import RESULT_FILE, open_output_dir


def _user_project(folder: Path) -> Path:
    (folder / "src").mkdir(parents=True)
    (folder / "thesis.txt").write_text("three years of work", encoding="utf-8")
    (folder / "src" / "code.py").write_text("print('mine')\n", encoding="utf-8")
    return folder


def test_overwrite_refuses_a_folder_embedtune_did_not_make_and_deletes_nothing(tmp_path: Path) -> None:
    project = _user_project(tmp_path / "project")
    with pytest.raises(OutputExistsError, match=r"embedtune did not make this folder \(it holds src, thesis.txt\)"):
        open_output_dir(project, {"seed": 1}, overwrite=True)
    assert (project / "thesis.txt").read_text(encoding="utf-8") == "three years of work"
    assert (project / "src" / "code.py").is_file()


def test_overwrite_refuses_an_embedtune_folder_holding_a_user_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    open_output_dir(out, {"seed": 1}, overwrite=False)
    write_text_atomic(out / RESULT_FILE, "{}")
    (out / "notes.md").write_text("my notes", encoding="utf-8")
    with pytest.raises(OutputExistsError, match=r"holds files embedtune did not write \(notes.md\)"):
        open_output_dir(out, {"seed": 1}, overwrite=True)
    assert (out / "notes.md").is_file() and (out / RESULT_FILE).is_file()


def test_overwrite_clears_what_embedtune_wrote(tmp_path: Path) -> None:
    out = tmp_path / "run"
    open_output_dir(out, {"seed": 1}, overwrite=False)
    write_text_atomic(out / RESULT_FILE, "{}")
    (out / "checkpoints" / "checkpoint-3").mkdir(parents=True)  # the Trainer's, claimed at open
    assert open_output_dir(out, {"seed": 2}, overwrite=True) is None
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "embedtune_run.json"]


def test_a_refusal_names_at_most_five_files(tmp_path: Path) -> None:
    for i in range(7):
        (tmp_path / f"f{i}.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputExistsError, match=r"\(it holds f0.txt, f1.txt, f2.txt, f3.txt, f4.txt and 2 more\)"):
        clear_owned_folder(tmp_path)


@pytest.mark.parametrize("where, reason", [("cwd", "the current directory"), ("parent", "a folder above"),
                                           ("home", "your home directory"), ("root", "a filesystem root")])
def test_protected_folders_are_refused_even_when_embedtune_made_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    where: str, reason: str) -> None:
    inner = tmp_path / "work"
    inner.mkdir()
    create_owned_folder(tmp_path, "embedtune train")
    create_owned_folder(inner, "embedtune train")
    monkeypatch.chdir(inner)
    target = {"cwd": inner, "parent": tmp_path, "home": tmp_path, "root": Path(os.sep)}[where]
    if where == "home":
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.chdir(Path(os.sep))
    with pytest.raises(OutputExistsError, match=reason):
        clear_owned_folder(target)


def test_files_written_below_an_owned_folder_are_claimed_at_its_top_level(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    create_owned_folder(out, "embedtune demo")
    write_text_atomic(out / "data" / "qrels" / "test.tsv", "q\td\t1\n")
    claim(out, "model")
    (out / "model").mkdir()
    clear_owned_folder(out)
    assert is_empty(out)


def test_staged_export_replaces_only_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "export"
    with staged_directory(out, command="embedtune export") as staging:
        (staging / "model.onnx").write_bytes(b"v1")
    with staged_directory(out, overwrite=True, command="embedtune export") as staging:
        (staging / "model.onnx").write_bytes(b"v2")
    assert (out / "model.onnx").read_bytes() == b"v2"
    (out / "mine.txt").write_text("x", encoding="utf-8")
    with pytest.raises(OutputExistsError, match=r"\(mine.txt\)"):
        check_output_folder(out, overwrite=True)
    assert (out / "mine.txt").is_file()


def _embedtune(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_DEBUG": ""}
    return subprocess.run([sys.executable, "-m", "embedtune.cli.app", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


def test_the_demo_never_deletes_a_users_folder(tmp_path: Path) -> None:
    """The report that started it: `demo --out` a project folder said "already holds a demo run", then
    `--overwrite` deleted thesis.txt and src/code.py."""
    project = _user_project(tmp_path / "project")
    first = _embedtune("demo", "--out", project, cwd=tmp_path)
    assert first.returncode == 1
    assert first.stderr.splitlines()[0] == f'embedtune: error: "{project}" is not empty and is not a demo run; ' \
                                           "choose another --out"
    again = _embedtune("demo", "--out", project, "--overwrite", cwd=tmp_path)
    assert again.returncode == 1
    assert "embedtune did not make this folder (it holds src, thesis.txt)" in again.stderr
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == ["src", "src/code.py", "thesis.txt"]


def test_train_into_the_current_directory_with_overwrite_is_refused(tmp_path: Path) -> None:
    project = _user_project(tmp_path / "project")
    pairs = project / "pairs.jsonl"
    pairs.write_text("".join(f'{{"query": "q{i}", "positive": "p{i}"}}\n' for i in range(40)), encoding="utf-8")
    proc = _embedtune("train", "--data", "pairs.jsonl", "--out", ".", "--overwrite", cwd=project)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].startswith('embedtune: error: --overwrite refuses to clear ".": it is the '
                                                  "current directory")
    assert sorted(p.name for p in project.iterdir()) == ["pairs.jsonl", "src", "thesis.txt"]
