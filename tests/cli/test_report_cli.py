"""`train --out DIR` and `eval --report DIR` write report.html from a real (tiny) run; its numbers are the run's."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_train_cli import embedtune
from tests.unit.test_report_html import assert_page_matches_facts

TINY = ["--max-seq-length", "48", "--batch-size", "8", "--epochs", "1", "--quiet"]


def test_train_and_eval_reports_show_the_runs_numbers(scifact_tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    env = {"EMBEDTUNE_CACHE_DIR": str(tmp_path / "cache")}
    out = tmp_path / "model"
    trained = embedtune("train", "--data", str(scifact_tiny), "--out", str(out), "--matryoshka-dims", "384,128",
                        "--json", *TINY, env=env)
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)

    text, facts = assert_page_matches_facts(out)
    assert facts["kind"] == "train"
    assert facts["metrics"]["base"] == result["before"] and facts["metrics"]["tuned"] == result["after"]
    assert set(facts["metrics"]["bm25"]) == set(result["after"])
    assert facts["training"]["best_step"] == result["best_step"]
    assert [e["step"] for e in facts["training"]["dev"]] == [e["step"] for e in result["dev_history"]]
    assert sorted(facts["by_dim"]["tuned"], key=int) == ["128", "384"]
    assert facts["images"] == ["report-dims.png", "report-metrics.png", "report-queries.png", "report-training.png"]
    changes = facts["query_changes"]
    assert changes["better"] + changes["worse"] + changes["unchanged"] == facts["num_queries"] > 0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert facts["verdict"] in card
    assert f"{changes['better']} better, {changes['worse']} worse" in card

    report_dir = tmp_path / "report"
    evaluated = embedtune("eval", "--model", str(out), "--data", str(scifact_tiny), "--dims", "384,128",
                          "--quantize", "int8,binary", "--report", str(report_dir),
                          "--json", str(tmp_path / "eval.json"), "--quiet", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"wrote {report_dir / 'report.html'}" in evaluated.stdout
    text, compared = assert_page_matches_facts(report_dir)
    assert "report-bytes.png" in compared["images"]
    points = {(p["dim"], p["precision"]): p for p in compared["operating_points"]}
    assert sorted(points) == [(d, q) for d in (128, 384) for q in ("binary", "float32", "int8")]
    assert points[(128, "binary")]["bytes_per_vector"] == 16 and points[(384, "int8")]["bytes_per_vector"] == 384
    saved = json.loads((tmp_path / "eval.json").read_text())
    for point in saved["operating_points"]:  # the tuned column is the eval's own quantized scores
        assert points[(point["dim"], point["precision"])]["tuned"] == point["metrics"]["ndcg@10"]
    assert 'data-fact="operating_points.0.tuned"' in text
    assert compared["base_model"] == "sentence-transformers/all-MiniLM-L6-v2", "the base the training recorded"
    assert compared["metrics"]["tuned"] == json.loads((tmp_path / "eval.json").read_text())["metrics"]
    # the same split and weights as train's before/after scores: the same numbers
    for side, scores in (("base", result["before"]), ("tuned", result["after"])):
        assert compared["metrics"][side]["ndcg@10"] == pytest.approx(scores["ndcg@10"], abs=1e-4)
    assert compared["training"]["best_step"] == result["best_step"], "curves come from the model's training record"

    again = embedtune("eval", "--model", str(out), "--data", str(scifact_tiny), "--report", str(report_dir),
                      "--quiet", env=env)
    assert again.returncode == 1
    assert f'"{report_dir / "report.html"}" already exists; pass --overwrite' in again.stderr


def test_eval_report_without_a_known_base_model_says_so(scifact_tiny: Path, tmp_path: Path) -> None:
    proc = embedtune("eval", "--data", str(scifact_tiny), "--report", str(tmp_path / "r"), "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        "embedtune: error: --report compares the model with its base model, but "
        "sentence-transformers/all-MiniLM-L6-v2 records none (it was not trained by embedtune); pass --base-model")
    assert not (tmp_path / "r").exists()


def test_base_model_only_applies_with_report(scifact_tiny: Path) -> None:
    proc = embedtune("eval", "--data", str(scifact_tiny), "--base-model", "x", "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "embedtune: error: --base-model only applies with --report DIR"
