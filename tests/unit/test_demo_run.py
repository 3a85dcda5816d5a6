"""The demo pipeline end to end on a tiny slice of the standard library (the real size runs in bench)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from embedtune.config import TrainConfig
from embedtune.demo import run_demo
from embedtune.errors import OutputExistsError

TINY = TrainConfig(strategy="lora", epochs=1, max_seq_length=32, batch_size=16, dev_corpus_size=60)


def test_demo_writes_results_with_the_promised_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDTUNE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    result = run_demo(out, config=TINY, max_functions=120)
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert saved["before"]["ndcg@10"] == pytest.approx(result.before["ndcg@10"])
    assert saved["after"]["ndcg@10"] == pytest.approx(result.after["ndcg@10"])
    assert Path(saved["model"]).is_dir() and (Path(saved["model"]) / "adapter").is_dir()
    assert saved["dataset"]["num_test"] == 24

    with pytest.raises(OutputExistsError, match="already holds a demo run; pass --overwrite"):
        run_demo(out, config=TINY, max_functions=120)
