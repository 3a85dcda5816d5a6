"""The HTML report: files written, numbers in the page equal to report.json, user text escaped, verdicts."""
from __future__ import annotations

import base64
import html
import json
import re
import sys
from pathlib import Path

import pytest

from embedtune.data.types import RetrievalSet
from embedtune.evaluation.evaluate import evaluate_bm25
from embedtune.evaluation.metrics import evaluate_run
from embedtune.evaluation.report import EvalReport
from embedtune.evaluation.report_html import (REPORT_HTML, REPORT_JSON, build_facts, build_model_facts,
                                              guard_verdict, write_report)

HOSTILE = '<script>alert("x")</script> & friends'
CORPUS = {"d1": "cells divide", "d2": "aspirin trial", "d3": "gene expression", "d4": HOSTILE, "d5": "noise"}
QUERIES = {"q1": "how do cells divide", "q2": "aspirin", "q3": "genes", "q4": HOSTILE}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1}, "q4": {"d4": 2, "d5": 0}}
DATA = RetrievalSet(corpus=CORPUS, queries=QUERIES, qrels=QRELS, source="tiny", split="test")
METRICS = ["ndcg@10", "recall@10"]


def _report(rankings: dict[str, list[str]], name: str) -> EvalReport:
    """An EvalReport from explicit rankings (scores descending), as evaluate_model would build it."""
    run = {q: {d: 1.0 - i / 10 for i, d in enumerate(ranking)} for q, ranking in rankings.items()}
    mean, per_query = evaluate_run(QRELS, run, METRICS)
    by_dim = {384: mean, 128: {m: v / 2 for m, v in mean.items()}}
    return EvalReport(metrics=mean, per_query=per_query, model=name, data="tiny", split="test", num_queries=4,
                      num_documents=5, by_dim=by_dim, top_documents=rankings)


# base: q1 right at rank 1, q2 at rank 2, q3 at rank 3, q4 at rank 1; tuned: q1 same, q2 and q3 up, q4 down
BASE = _report({"q1": ["d1", "d2"], "q2": ["d1", "d2"], "q3": ["d1", "d2", "d3"], "q4": ["d4", "d5"]}, "base")
TUNED = _report({"q1": ["d1", "d2"], "q2": ["d2", "d1"], "q3": ["d3", "d1"], "q4": ["d5", "d1", "d2"]}, "tuned")
GUARD = {"metric": "ndcg@10", "data": "general", "split": "test", "threshold": 0.01, "backend": "torch",
         "guard_dev_queries": 5, "heldout_queries": 5, "base": {"guard_dev": 0.5, "heldout": 0.6},
         "tuned": {"guard_dev": 0.49, "heldout": 0.598}, "chosen": {"guard_dev": 0.49, "heldout": 0.598},
         "alpha": 1.0, "interpolated": False, "within_threshold": True, "grid": [], "decision": "kept the tuned weights"}
TRAINING = {"loss_history": [{"step": 1, "loss": 1.2}, {"step": 2, "loss": 0.9}],
            "dev_history": [{"step": 1, "eval_dev_ndcg@10": 0.41, "eval_dev_mrr@10": 0.4, "epoch": 0.5},
                            {"step": 2, "eval_dev_ndcg@10": 0.45, "eval_dev_mrr@10": 0.43, "epoch": 1.0}],
            "best_step": 2, "train_seconds": 3.2, "num_train_pairs": 16}


def _facts() -> dict:
    bm25 = evaluate_bm25(DATA, metrics=METRICS)
    return build_facts(model="runs/tiny", base_model="base-model", base=BASE, tuned=TUNED, data=DATA, bm25=bm25,
                       training=TRAINING, guard=GUARD, kind="train")


def _lookup(facts: dict, path: str):
    value = facts
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def assert_page_matches_facts(folder: Path) -> tuple[str, dict]:
    """Every number shown in report.html equals the fact it names in report.json; each image is there."""
    text = (folder / REPORT_HTML).read_text(encoding="utf-8")
    facts = json.loads((folder / REPORT_JSON).read_text(encoding="utf-8"))
    cells = re.findall(r'data-fact="([^"]+)">([^<]+)<', text)
    for path, shown in cells:
        assert float(shown) == pytest.approx(_lookup(facts, path), abs=5e-5), path
    assert html.unescape(re.search(r'id="verdict">([^<]+)<', text).group(1)) == facts["verdict"]
    for name in facts["images"]:
        png = (folder / name).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        inlined = re.search(rf'src="data:image/png;base64,([^"]+)" alt="[^"]*" data-file="{name}"', text)
        assert inlined and base64.b64decode(inlined.group(1)) == png, name
    # self-contained: nothing is fetched when the page opens
    assert not re.search(r"<script|<link|src=\"http|url\(", text)
    return text, facts


def test_every_number_in_the_page_is_the_one_in_report_json(tmp_path: Path) -> None:
    page = write_report(tmp_path, _facts())
    assert page == tmp_path / REPORT_HTML
    text, _ = assert_page_matches_facts(tmp_path)
    paths = set(re.findall(r'data-fact="([^"]+)"', text))
    for must in ("metrics.base.ndcg@10", "metrics.tuned.ndcg@10", "metrics.change.ndcg@10", "metrics.bm25.ndcg@10",
                 "query_changes.better", "query_changes.worse", "query_changes.largest_gains.0.change",
                 "guard.chosen.heldout", "by_dim.tuned.128.ndcg@10", "training.dev.1.ndcg@10"):
        assert must in paths, must


def test_plots_are_saved_beside_the_page_and_inlined_in_it(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    write_report(tmp_path, _facts())
    _, facts = assert_page_matches_facts(tmp_path)
    assert facts["images"] == ["report-dims.png", "report-metrics.png", "report-queries.png", "report-training.png"]


def _with_operating_points(report: EvalReport, scale: float) -> EvalReport:
    points = [{"dim": dim, "precision": precision, "bytes_per_vector": size,
               "metrics": {m: v * scale * factor for m, v in report.metrics.items()}}
              for dim, precision, size, factor in ((384, "float32", 1536, 1.0), (384, "int8", 384, 0.99),
                                                   (384, "binary", 48, 0.8), (128, "float32", 512, 0.9),
                                                   (128, "int8", 128, 0.89), (128, "binary", 16, 0.6))]
    return EvalReport(**{**report.__dict__, "operating_points": points})


def test_quantized_operating_points_get_a_plot_and_a_table_of_bytes_against_quality(tmp_path: Path) -> None:
    facts = build_facts(model="runs/tiny", base_model="base-model", base=_with_operating_points(BASE, 0.9),
                        tuned=_with_operating_points(TUNED, 1.0), data=DATA, kind="eval")
    points = facts["operating_points"]
    assert [(p["dim"], p["precision"], p["bytes_per_vector"]) for p in points][:3] == [
        (384, "float32", 1536), (384, "int8", 384), (384, "binary", 48)]
    assert points[2]["tuned"] == pytest.approx(TUNED.metrics["ndcg@10"] * 0.8)
    assert points[2]["base"] == pytest.approx(BASE.metrics["ndcg@10"] * 0.9 * 0.8)
    write_report(tmp_path, facts)
    text, saved = assert_page_matches_facts(tmp_path)
    for i in range(len(points)):
        assert f'data-fact="operating_points.{i}.tuned"' in text and f'data-fact="operating_points.{i}.base"' in text
    assert 'data-fact="operating_points.5.bytes_per_vector">16<' in text
    if _has_matplotlib():
        assert "report-bytes.png" in saved["images"]


def test_float32_sizes_alone_add_no_operating_points_section(tmp_path: Path) -> None:
    assert _facts()["operating_points"] is None
    text = write_report(tmp_path, _facts()).read_text(encoding="utf-8")
    assert "bytes per vector (quantized" not in text


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_query_and_document_text_is_escaped(tmp_path: Path) -> None:
    text = write_report(tmp_path, _facts()).read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; friends" in text


def test_wins_and_losses_are_counted_and_the_moved_documents_named() -> None:
    changes = _facts()["query_changes"]
    assert (changes["better"], changes["worse"], changes["unchanged"]) == (2, 1, 1)
    # q3's relevant document went from rank 3 to 1 (nDCG 0.5 -> 1): the largest gain; q2 rank 2 -> 1 next
    assert [e["query_id"] for e in changes["largest_gains"]] == ["q3", "q2"]
    q3 = changes["largest_gains"][0]
    assert q3["relevant"] == [{"id": "d3", "text": "gene expression", "base_rank": 3, "tuned_rank": 1}]
    assert [d["id"] for d in q3["tuned_top"]] == ["d3", "d1"] and q3["tuned_top"][0]["relevant"]
    loss = changes["largest_losses"][0]
    assert loss["query_id"] == "q4" and loss["change"] == pytest.approx(-1.0)
    assert loss["relevant"][0]["tuned_rank"] is None  # d4 fell out of the tuned top documents


def test_verdict_line_states_the_change_the_counts_and_the_guard() -> None:
    facts = _facts()
    before, after = BASE.metrics["ndcg@10"], TUNED.metrics["ndcg@10"]
    assert facts["verdict"] == (f"nDCG@10 {before:.3f} → {after:.3f} ({after - before:+.3f}) on 4 test queries; "
                                "2 queries better, 1 worse; general-domain guard: no forgetting (-0.002)")


def test_guard_verdicts() -> None:
    assert guard_verdict(None).startswith("not run")
    forgot = {**GUARD, "chosen": {"guard_dev": 0.45, "heldout": 0.55}}
    assert guard_verdict(forgot) == "forgetting (-0.050, more than the 0.01 allowed)"
    mixed = {**GUARD, "interpolated": True, "alpha": 0.7, "chosen": {"guard_dev": 0.5, "heldout": 0.605}}
    assert guard_verdict(mixed) == "weights mixed back towards the base (alpha 0.7), no forgetting (+0.005)"


def test_without_matplotlib_the_page_keeps_its_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # import fails as if not installed
    text = write_report(tmp_path, _facts()).read_text(encoding="utf-8")
    assert "<img" not in text and "pip install &#x27;embedtune[report]&#x27;" not in text
    assert "pip install 'embedtune[report]'" in text
    assert 'data-fact="metrics.tuned.ndcg@10"' in text
    assert not list(tmp_path.glob("*.png"))


def test_bm25_reference_ranks_the_document_that_shares_the_query_words() -> None:
    report = evaluate_bm25(DATA, metrics=["ndcg@10"], keep_top=3)
    assert report.model == "BM25"
    assert report.top_documents["q2"][0] == "d2" and report.top_documents["q1"][0] == "d1"
    assert report.per_query["q2"]["ndcg@10"] == 1.0


def test_the_check_catches_a_page_that_disagrees_with_its_facts(tmp_path: Path) -> None:
    write_report(tmp_path, _facts())
    facts = json.loads((tmp_path / REPORT_JSON).read_text(encoding="utf-8"))
    facts["metrics"]["tuned"]["ndcg@10"] += 0.01
    (tmp_path / REPORT_JSON).write_text(json.dumps(facts), encoding="utf-8")
    with pytest.raises(AssertionError, match="metrics.tuned.ndcg@10"):
        assert_page_matches_facts(tmp_path)


def test_a_rewritten_report_drops_the_plots_it_no_longer_has_facts_for(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    write_report(tmp_path, _facts())
    assert (tmp_path / "report-dims.png").is_file()
    write_report(tmp_path, {**_facts(), "by_dim": None})
    assert not (tmp_path / "report-dims.png").exists()
    assert "report-dims.png" not in json.loads((tmp_path / REPORT_JSON).read_text(encoding="utf-8"))["images"]


def test_a_training_without_a_held_out_split_reports_its_dev_scores(tmp_path: Path) -> None:
    facts = build_facts(model="runs/tiny", base_model="base-model", training=TRAINING, kind="train")
    assert facts["verdict"] == "no held-out split: best dev nDCG@10 0.450 at step 2; general-domain guard: not run"
    write_report(tmp_path, facts)
    text, written = assert_page_matches_facts(tmp_path)
    assert written["metrics"] is None and "No held-out split was scored" in text
    if written["images"]:  # with matplotlib
        assert written["images"] == ["report-training.png"]


def test_facts_refuse_evaluations_made_without_their_top_documents() -> None:
    bare = EvalReport(metrics=BASE.metrics, per_query=BASE.per_query)
    with pytest.raises(ValueError, match="keep_top=TOP_DOCUMENTS"):
        build_facts(model="m", base_model="b", base=bare, tuned=TUNED, data=DATA)


def test_a_model_with_no_base_gets_a_report_of_its_own_scores_and_no_comparison(tmp_path: Path) -> None:
    bm25 = evaluate_bm25(DATA, metrics=METRICS)
    facts = build_model_facts(model="stock-model", report=_with_operating_points(TUNED, 1.0), bm25=bm25)
    assert facts["base_model"] is None
    assert facts["metrics"] == {"model": TUNED.metrics, "bm25": bm25.metrics}
    assert facts["by_dim"] == {"model": {"384": TUNED.by_dim[384], "128": TUNED.by_dim[128]}}
    assert facts["operating_points"][2] == {"dim": 384, "precision": "binary", "bytes_per_vector": 48,
                                            "model": pytest.approx(TUNED.metrics["ndcg@10"] * 0.8)}
    assert facts["verdict"] == (f"nDCG@10 {TUNED.metrics['ndcg@10']:.3f} on 4 test queries; "
                                "no base model to compare with")
    write_report(tmp_path, facts)
    text, written = assert_page_matches_facts(tmp_path)
    paths = set(re.findall(r'data-fact="([^"]+)"', text))
    assert {"metrics.model.ndcg@10", "metrics.bm25.ndcg@10", "by_dim.model.128.ndcg@10",
            "operating_points.2.model"} <= paths
    assert not [p for p in paths if ".base" in p or ".tuned" in p or ".change" in p or p.startswith("guard")]
    assert "base model" not in text.replace("no base model to compare with", "")
    if written["images"]:  # with matplotlib
        assert written["images"] == ["report-bytes.png", "report-dims.png", "report-metrics.png"]
