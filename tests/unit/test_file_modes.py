"""Every file embedtune writes gets the mode open() would give: a model copied to a server that runs
as another user must be readable there (safetensors and torch.save alone leave 0600)."""
from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedtune._io import MARKER


@pytest.fixture()
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _modes(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): oct(stat.S_IMODE(p.stat().st_mode)) for p in sorted(tree.rglob("*"))}


def _expected(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): "0o755" if p.is_dir() else "0o644" for p in sorted(tree.rglob("*"))}


def test_a_trained_model_folder_and_its_onnx_export_are_readable_by_everyone(
        tmp_path: Path, usual_umask: None) -> None:
    from embedtune.config import TrainConfig
    from embedtune.export import export_model
    from embedtune.training import train_model
    from tests.tiny_models import tiny_bert

    model = tiny_bert(tmp_path / "tiny")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"query": f"question {i} on topic {i % 5}",
                                         "positive": f"answer {i} about topic {i % 5}"}) + "\n" for i in range(40)),
                     encoding="utf-8")
    out = tmp_path / "run"
    train_model(pairs, out, TrainConfig(model=str(model), epochs=1, batch_size=8, max_seq_length=32),
                show_progress=False)
    assert (out / "model.safetensors").is_file()
    assert _modes(out) == _expected(out)

    exported = tmp_path / "onnx"
    export_model(str(out), "onnx", exported)
    assert (exported / MARKER).is_file()
    assert _modes(exported) == _expected(exported)
