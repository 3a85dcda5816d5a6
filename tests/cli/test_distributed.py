"""`embedtune train` under torchrun: two CPU processes (gloo), one model out, negatives shared."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.slow  # ~60 s of CPU; torchrun with 2 processes stays in the default run in the test below
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


def test_fewer_rows_than_batch_times_processes_trains_with_a_smaller_batch(tmp_path: Path) -> None:
    """64 pairs (58 after the dev carve) under 2 processes at the default batch of 32 ended in a raw
    traceback on every rank ("args.max_steps must be set to a positive value ...")."""
    from tests.tiny_models import tiny_bert

    torchrun = shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not on PATH")
    model = tiny_bert(tmp_path / "tiny")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"query": f"what about topic {i}", "positive": f"topic {i} is {i * 3}"})
                             + "\n" for i in range(64)), encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "EMBEDTUNE_DEBUG": ""}

    def run(data: Path, out: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [torchrun, "--nproc_per_node", "2", "--master_port", "29518", "-m", "embedtune.cli.app", "train",
             "--model", str(model), "--data", str(data), "--out", str(out), "--epochs", "1",
             "--max-seq-length", "32", "--json"], capture_output=True, text=True, env=env, timeout=600)

    proc = run(pairs, tmp_path / "ddp")
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = [line for line in proc.stderr.splitlines() if "fill no batch" in line]
    assert len(said) == 1 and said[0].endswith(
        "58 training rows fill no batch of 32 across 2 processes: training with batch_size 29")
    assert json.loads(proc.stdout)["config"]["batch_size"] == 29

    three = tmp_path / "three.jsonl"
    three.write_text("".join(json.dumps({"query": f"q{i}", "positive": f"p{i}"}) + "\n" for i in range(3)),
                     encoding="utf-8")
    refused = run(three, tmp_path / "refused")
    assert refused.returncode != 0
    assert ("embedtune: error: 2 training rows are too few for batches of at least 2 across 2 processes "
            "(in-batch negatives need company): give more rows or fewer processes") in refused.stderr
    # torchrun itself reports a failed child with a traceback of its own; no rank's traceback may show
    assert "embedtune/" not in refused.stderr.replace("embedtune/cli", ""), "no rank printed a traceback"
    assert not (tmp_path / "refused").exists(), "nothing is made before the check"
