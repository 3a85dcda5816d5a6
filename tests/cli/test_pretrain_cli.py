"""`embedtune pretrain` end to end: its output is a model that `embedtune train --model` fine-tunes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def embedtune(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embedtune.cli.app", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


@pytest.mark.slow  # ~55 s of CPU; pretraining stays in the default run in tests/unit/test_pretrain.py
def test_pretrained_model_feeds_the_contrastive_stage(scifact_slice: Path, scifact_tiny: Path,
                                                     tmp_path: Path) -> None:
    pretrained = tmp_path / "tsdae"
    proc = embedtune("pretrain", "--data", str(scifact_slice), "--out", str(pretrained), "--max-docs", "20",
                     "--max-steps", "2", "--max-seq-length", "48", "--batch-size", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["pretrained"] is True and result["num_documents"] == 20 and result["num_steps"] == 2

    again = embedtune("pretrain", "--data", str(scifact_slice), "--out", str(pretrained), "--quiet")
    assert again.returncode == 1
    assert again.stderr.splitlines()[0] == (f'embedtune: error: "{pretrained}" already holds a finished model; '
                                            "pass --overwrite to replace it or choose another --out")

    tuned = tmp_path / "tuned"
    proc = embedtune("train", "--model", str(pretrained), "--data", str(scifact_tiny), "--out", str(tuned),
                     "--epochs", "1", "--max-seq-length", "48", "--batch-size", "8", "--json", "--quiet",
                     env={"EMBEDTUNE_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    trained = json.loads(proc.stdout)
    assert trained["config"]["model"] == str(pretrained)
    assert "ndcg@10" in trained["after"]
    card = (tuned / "README.md").read_text(encoding="utf-8")
    assert f"base_model: {pretrained.name}\n" in card and str(tmp_path) not in card, "the folder's name, not its path"
