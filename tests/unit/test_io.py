"""Atomic writes keep the modes a plain open()/mkdir() would give, so shared outputs stay readable."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from embedtune._io import write_text_atomic
from embedtune._owned import staged_directory


@pytest.fixture()
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_an_atomically_written_file_gets_the_umask_mode_not_0600(tmp_path: Path, umask_022) -> None:
    write_text_atomic(tmp_path / "report.html", "<p>hi</p>")
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644
    assert (tmp_path / "report.html").read_text() == "<p>hi</p>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"], "no temporary file left behind"


def test_a_staged_folder_gets_the_umask_mode_not_0700(tmp_path: Path, umask_022) -> None:
    with staged_directory(tmp_path / "export") as staging:
        (staging / "model.onnx").write_bytes(b"x")
    assert stat.S_IMODE((tmp_path / "export").stat().st_mode) == 0o755
    assert (tmp_path / "export" / "model.onnx").read_bytes() == b"x"
