"""`embedtune train` under torchrun: two CPU processes (gloo), one model out, negatives shared."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


def test_two_process_training_under_torchrun_publishes_one_trained_model(scifact_slice: Path,
                                                                         tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    out = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "EMBEDTUNE_CACHE_DIR": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_port", "29517", "-m", "embedtune.cli.app", "train",
         "--data", str(scifact_slice), "--out", str(out), "--epochs", "1", "--max-seq-length", "32",
         "--batch-size", "4", "--json", "--quiet"],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # exactly one JSON document: only the main process reports
    assert result["num_processes"] == 2
    assert result["dev_history"], "the dev split was scored during training"
    assert (out / "embedtune_train.json").is_file() and not (out / "checkpoints").exists()

    from sentence_transformers import SentenceTransformer

    from embedtune.models import load_model

    tuned = SentenceTransformer(str(out), device="cpu")
    base = load_model(None)
    text = ["a claim about cells"]
    tuned_vec, base_vec = tuned.encode(text), base.encode(text)
    assert tuned_vec.shape == (1, 384)
    assert not np.allclose(tuned_vec, base_vec, atol=1e-4), "the weights changed: the processes trained"
