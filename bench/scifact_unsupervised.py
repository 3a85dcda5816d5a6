"""Unsupervised SciFact benchmark: `embedtune adapt` on the SciFact corpus alone, no labels.

Adapt sees only corpus.jsonl (no queries, no qrels): it generates offline pseudo-queries (ICT and
title pairs), mines BM25 negatives, trains, and scores itself on queries generated from held-out
documents. SciFact test labels are only used here, afterwards, to score the base and the adapted
model; dbpedia-5k is the forgetting guard. Each step runs in its own process (wall time, peak memory).

Targets (issue 6): SciFact test nDCG@10 +0.02 over the base, `adapt` in <= 30 minutes on 2 CPU
cores, dbpedia-5k nDCG@10 down by <= 0.01.

    python bench/scifact_unsupervised.py                           # ~40 minutes on 2 CPU cores
    python bench/scifact_unsupervised.py --max-docs 300 --epochs 1 # a slice: checks the script, not the method
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, SHARED_DATA, Results, run_step  # noqa: E402

PY = sys.executable
TARGETS = {"scifact_gain": 0.02, "adapt_seconds": 30 * 60, "dbpedia_drop": 0.01}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--workdir", type=Path, default=None, help="Where models are written (default: a temp dir).")
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--max-docs", type=int, default=None,
                        help="A slice: 40 SciFact test judgments, their documents and distractors up to this many "
                             "documents; no dbpedia guard. Checks the script, not the method.")
    parser.add_argument("--epochs", type=float, default=None, help="`embedtune adapt --epochs` [adapt's default].")
    parser.add_argument("--adapt-args", default="", help='Extra `embedtune adapt` flags, e.g. "--max-pairs 4000".')
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-unsupervised-"))
    work.mkdir(parents=True, exist_ok=True)
    scifact, dbpedia = args.data / "scifact", args.data / "dbpedia-5k"
    if args.max_docs is not None:
        sys.path.insert(0, str(ROOT))
        from tests.slices import write_beir_slice

        scifact = write_beir_slice(scifact, work / "slice", train_qrels=0, test_qrels=40,
                                   distractors=max(0, args.max_docs - 40))
        dbpedia = None
    result_path = args.result or ROOT / "bench" / "results" / (
        "scifact_unsupervised_slice.json" if args.max_docs is not None else "scifact_unsupervised.json")
    results = Results(result_path, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}

    def evaluate(key: str, model: Path | None, folder: Path) -> float:
        scores = work / f"{key}.json"
        run_step(key, [PY, "-m", "embedtune.cli.app", "eval", "--data", str(folder), "--json", str(scores), "--quiet",
                       *(["--model", str(model)] if model else [])], env)
        value = json.loads(scores.read_text())["metrics"]["ndcg@10"]
        results.record(key, {"ndcg@10": value})
        return value

    base_scifact = evaluate("base_scifact_test", None, scifact)
    base_dbpedia = evaluate("base_dbpedia_test", None, dbpedia) if dbpedia else None

    model = work / "adapted"
    extra = (["--epochs", str(args.epochs)] if args.epochs is not None else []) + shlex.split(args.adapt_args)
    # the corpus file alone: adapt never sees SciFact's queries or qrels
    adapted = run_step("adapt", [PY, "-m", "embedtune.cli.app", "adapt", str(scifact / "corpus.jsonl"), "--out",
                                 str(model), "--json", "--quiet", "--overwrite", *extra], env)
    report = json.loads(adapted.pop("stdout"))
    results.record("adapt", {"wall_seconds": adapted["wall_seconds"], "peak_rss_gb": adapted["peak_rss_gb"],
                             "argv": adapted["argv"], "stage_seconds": report["stage_seconds"],
                             "generation": {k: report["generation"][k] for k in ("passages", "generated", "kept",
                                                                                 "kept_by_method", "dropped")},
                             "split": report["split"], "mining_rows": (report["mining"] or {}).get("rows_kept"),
                             "train": {k: report["train"][k] for k in ("num_train_pairs", "train_seconds",
                                                                       "best_step", "precision")},
                             "heldout_ndcg@10": {"base": report["heldout"]["before"]["ndcg@10"],
                                                 "adapted": report["heldout"]["after"]["ndcg@10"]}})

    after_scifact = evaluate("adapted_scifact_test", model, scifact)
    after_dbpedia = evaluate("adapted_dbpedia_test", model, dbpedia) if dbpedia else None
    summary = {"scifact_test_ndcg@10": {"base": base_scifact, "adapted": after_scifact,
                                        "gain": round(after_scifact - base_scifact, 4)},
               "adapt_wall_seconds": adapted["wall_seconds"],
               "targets": {"scifact_gain_at_least": TARGETS["scifact_gain"],
                           "adapt_seconds_at_most": TARGETS["adapt_seconds"],
                           "dbpedia_drop_at_most": TARGETS["dbpedia_drop"]},
               "slice": args.max_docs is not None}
    met = {"scifact_gain": after_scifact - base_scifact >= TARGETS["scifact_gain"],
           "adapt_time": adapted["wall_seconds"] <= TARGETS["adapt_seconds"]}
    if base_dbpedia is not None and after_dbpedia is not None:
        summary["dbpedia_test_ndcg@10"] = {"base": base_dbpedia, "adapted": after_dbpedia,
                                           "drop": round(base_dbpedia - after_dbpedia, 4)}
        met["dbpedia_drop"] = base_dbpedia - after_dbpedia <= TARGETS["dbpedia_drop"]
    summary["targets_met"] = met
    results.data["summary"] = summary
    results.save()
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
