"""`embedtune demo --images` through the command line (in process, on a small set: the full size runs in bench)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import embedtune.demo
from embedtune.cli.app import cli
from embedtune.config import TrainConfig

SMALL = TrainConfig(epochs=1, batch_size=32, learning_rate=2e-3, recipe="fixed", eval_split="test", dev_corpus_size=100)


def test_demo_images_prints_the_before_after_table_and_writes_results(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    full_size = embedtune.demo.run_image_demo
    calls: list[dict] = []

    def small_demo(out: str, **options: object):
        calls.append({"out": out, **options})
        return full_size(out, config=SMALL, train_images=120, **options)

    monkeypatch.setenv("EMBEDTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(embedtune.demo, "run_image_demo", small_demo)
    monkeypatch.setattr("embedtune.cli.demo.setup_output", lambda quiet: False)  # leave pytest's logging alone
    result = CliRunner().invoke(cli, ["demo", "--images", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert calls == [{"out": str(tmp_path / "demo"), "overwrite": False, "show_progress": False}]
    assert "Caption -> image search for held-out captions" in result.output
    assert "recall@1" in result.output and f"results written to {tmp_path / 'demo' / 'results.json'}" in result.output
    saved = json.loads((tmp_path / "demo" / "results.json").read_text(encoding="utf-8"))
    assert set(saved) >= {"before", "after", "model"} and Path(saved["model"]).is_dir()
    assert saved["base_model"] == "tiny random CLIP (built from a config)" and saved["dataset"]["test_captions"] == 24
    assert f"{saved['before']['recall@1']:.4f}" in result.output and f"{saved['after']['recall@1']:.4f}" in result.output
