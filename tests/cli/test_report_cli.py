"""`train --out DIR` and `eval --report DIR` write report.html from a real (tiny) run; its numbers are the run's."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_train_cli import embedtune
from tests.unit.test_report_html import assert_page_matches_facts

TINY = ["--max-seq-length", "48", "--batch-size", "8", "--epochs", "1", "--quiet"]


@pytest.mark.slow  # ~100 s of CPU; the report's content stays in the default run in tests/unit/test_report_html.py
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
    # at the training's max sequence length: the base model would otherwise be scored at its own (256)
    evaluated = embedtune("eval", "--model", str(out), "--data", str(scifact_tiny), "--dims", "384,128",
                          "--max-seq-length", "48", "--quantize", "int8,binary", "--report", str(report_dir),
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
    # the same split, weights and max sequence length as train's before/after scores: the same numbers
    for side, scores in (("base", result["before"]), ("tuned", result["after"])):
        assert compared["metrics"][side]["ndcg@10"] == pytest.approx(scores["ndcg@10"], abs=1e-4)
    assert compared["training"]["best_step"] == result["best_step"], "curves come from the model's training record"

    again = embedtune("eval", "--model", str(out), "--data", str(scifact_tiny), "--report", str(report_dir),
                      "--quiet", env=env)
    assert again.returncode == 1
    assert f'"{report_dir / "report.html"}" already exists; pass --overwrite' in again.stderr


def write_tiny_beir(folder: Path) -> Path:
    """Four questions, each with one abstract that answers it, among eight documents."""
    docs = {"d1": "Aspirin lowers the risk of a second heart attack.",
            "d2": "Vitamin D levels fall in winter at high latitudes.",
            "d3": "Macrophages in adult tissues come from the yolk sac.",
            "d4": "Smoking raises the risk of lung cancer.",
            **{f"d{i}": f"A survey of hospital staffing, part {i}." for i in range(5, 9)}}
    queries = {"q1": "Does aspirin prevent heart attacks?", "q2": "Why is vitamin D low in winter?",
               "q3": "Where do tissue macrophages come from?", "q4": "Does smoking cause lung cancer?"}
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": d, "title": "", "text": t}) + "\n"
                                                 for d, t in docs.items()), encoding="utf-8")
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n"
                                                  for q, t in queries.items()), encoding="utf-8")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"q{i}\td{i}\t1\n" for i in range(1, 5)), encoding="utf-8")
    return folder


def test_eval_report_of_a_stock_model_reports_it_alone(tmp_path: Path) -> None:
    data = write_tiny_beir(tmp_path / "tiny")
    report_dir = tmp_path / "r"
    proc = embedtune("eval", "--model", "all-MiniLM-L6-v2", "--data", str(data), "--report", str(report_dir),
                     "--json", str(tmp_path / "eval.json"), "--quiet",
                     env={"EMBEDTUNE_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert "ndcg@10" in proc.stdout and "compared with" not in proc.stdout
    assert f"wrote {report_dir / 'report.html'}" in proc.stdout
    text, facts = assert_page_matches_facts(report_dir)
    assert facts["model"] == "sentence-transformers/all-MiniLM-L6-v2" and facts["base_model"] is None
    assert facts["metrics"]["model"] == json.loads((tmp_path / "eval.json").read_text())["metrics"]
    assert "base" not in facts["metrics"] and 'data-fact="metrics.base.' not in text
    assert facts["num_queries"] == 4 and facts["num_documents"] == 8


def test_base_model_only_applies_with_report(scifact_tiny: Path) -> None:
    proc = embedtune("eval", "--data", str(scifact_tiny), "--base-model", "x", "--quiet")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == "embedtune: error: --base-model only applies with --report DIR"
