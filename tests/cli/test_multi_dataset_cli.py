"""`embedtune train --data A --data B`: one run over several data sets, batches drawn as --sampling says."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FAST = ["--max-seq-length", "48", "--batch-size", "8", "--epochs", "1", "--json", "--quiet"]


def embedtune(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "embedtune.cli.app", *args], capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


@pytest.fixture(scope="module")
def entity_pairs(dbpedia_like: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 (query, positive) rows from the DBpedia-like set: a second domain, much smaller than the SciFact slice."""
    from embedtune.data.beir import load_beir

    data = load_beir(dbpedia_like, "test")
    rows = [{"query": data.queries[q], "positive": data.corpus[data.positives(q)[0]]}
            for q in sorted(data.evaluable_query_ids())[:20]]
    path = tmp_path_factory.mktemp("entities") / "entities.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _steps_per_epoch(result: dict) -> int:
    return result["dev_history"][-1]["step"]  # one dev evaluation per epoch, after its last step


@pytest.mark.slow  # two training runs: ~5 minutes on 2 busy cores
def test_round_robin_stops_with_the_smaller_set_and_proportional_uses_every_row(
        scifact_slice: Path, entity_pairs: Path, tmp_path: Path) -> None:
    env = {"EMBEDTUNE_CACHE_DIR": str(tmp_path / "cache")}
    runs = {}
    for sampling in ("round_robin", "proportional"):
        proc = embedtune("train", "--data", str(scifact_slice), "--data", str(entity_pairs), "--sampling", sampling,
                         "--out", str(tmp_path / sampling), *FAST, env=env)
        assert proc.returncode == 0, proc.stderr
        runs[sampling] = json.loads(proc.stdout)
    result = runs["proportional"]
    first, second = result["datasets"]
    assert result["num_train_pairs"] == first["train_pairs"] + second["train_pairs"]
    assert second["train_pairs"] + second["dev_queries"] == 20 and second["before"] is None
    assert first["heldout_split"] == "test" and first["after"] == result["after"]
    dev = result["dev_history"][-1]
    assert dev["eval_dev_ndcg@10"] == pytest.approx((dev["eval_dev_0_ndcg@10"] + dev["eval_dev_1_ndcg@10"]) / 2)
    small_batches = -(-second["train_pairs"] // 8)
    # proportional: every batch of both sets; round robin: alternate until the smaller set runs out
    assert _steps_per_epoch(runs["proportional"]) >= -(-first["train_pairs"] // 8) + small_batches - 1
    assert _steps_per_epoch(runs["round_robin"]) <= 2 * small_batches + 1
    saved = _load(tmp_path / "proportional")
    assert saved.encode(["a claim about cells"]).shape == (1, 384)


def test_several_data_sets_and_the_guard_are_refused_together(scifact_slice: Path, entity_pairs: Path,
                                                              tmp_path: Path) -> None:
    proc = embedtune("train", "--data", str(scifact_slice), "--data", str(entity_pairs), "--guard-data",
                     str(scifact_slice), "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == ("embedtune: error: the forgetting guard (guard_data) works with one "
                                           "training data set; train on several without it, or on one with it")


def _load(path: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")
