"""Mining benchmark: does training on mined hard negatives beat in-batch negatives alone on SciFact?

Every variant trains with `embedtune train` defaults on a JSONL file written from SciFact train
(the baseline's rows carry no negatives; the others carry what `embedtune mine` found), so the
data, the dev carving and the settings are the same and only the negatives differ. Each tuned
model is then scored on SciFact test (never used to choose anything) and on dbpedia-5k (the
forgetting guard).

    python bench/scifact_mining.py                 # several hours on 2 CPU cores
    python bench/scifact_mining.py --quick         # a slice: checks the script, not the method
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
# name -> extra `embedtune mine` arguments (None: the in-batch-only baseline)
VARIANTS: dict[str, list[str] | None] = {
    "in_batch_only": None,
    "bm25": ["--method", "bm25"],
    "dense": ["--method", "dense"],
    "hybrid": ["--method", "hybrid"],
    "dense_no_filter": ["--method", "dense", "--no-margin"],
    "hybrid_no_filter": ["--method", "hybrid", "--no-margin"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--num-negatives", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="Comma-separated subset of the variants.")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="A small slice and one epoch: checks the script runs.")
    parser.add_argument("--guard-backend", default="torch",
                        help="`embedtune eval --backend` for the dbpedia-5k guard (SciFact test is always exact "
                             "fp32); the base model is scored the same way, in the same run.")
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="Add to an existing --result file: variants it already holds are skipped, and the "
                             "command of each run is kept in `commands`.")
    parser.add_argument("--train-args", default="", help='Extra `embedtune train` flags for every variant, e.g. "--dropout 0".')
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-mining-"))
    work.mkdir(parents=True, exist_ok=True)
    scifact, dbpedia = args.data / "scifact", args.data / "dbpedia-5k"
    train_args: list[str] = []
    if args.quick:
        sys.path.insert(0, str(ROOT))
        from tests.slices import write_beir_slice

        scifact = write_beir_slice(scifact, work / "slice", train_qrels=120, test_qrels=40, distractors=200)
        dbpedia = None
        train_args = ["--epochs", "1", "--max-seq-length", "64"]
    train_args += shlex.split(args.train_args)
    result_path = args.result or ROOT / "bench" / "results" / (
        "scifact_mining_quick.json" if args.quick else "scifact_mining.json")
    results = Results(result_path, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    if args.resume:
        results.continue_earlier()
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}
    baseline_rows = work / "in_batch_only.jsonl"
    _write_plain_rows(scifact, baseline_rows)

    if dbpedia is not None and "base_model" not in results.data["steps"]:  # the guard's reference point
        scores = work / "base_dbpedia_test.json"
        run_step("eval_base_dbpedia_test", [PY, "-m", "embedtune.cli.app", "eval", "--data", str(dbpedia), "--json",
                                            str(scores), "--quiet", "--backend", args.guard_backend], env)
        results.record("base_model", {"dbpedia_test_ndcg@10": json.loads(scores.read_text())["metrics"]["ndcg@10"],
                                      "guard_backend": args.guard_backend})

    for name in args.variants.split(","):
        if name in results.data["steps"]:
            print(f"{name}: already in {result_path}, skipped", flush=True)
            continue
        extra = VARIANTS[name]
        rows = baseline_rows
        step: dict = {}
        if extra is not None:
            rows = work / f"{name}.jsonl"
            mined = run_step(f"mine_{name}", [PY, "-m", "embedtune.cli.app", "mine", "--data", str(scifact),
                                               "--out", str(rows), "--num-negatives", str(args.num_negatives),
                                               "--json", "--quiet", "--overwrite", *extra], env)
            step["mining"] = {**json.loads(mined.pop("stdout")), "wall_seconds": mined["wall_seconds"]}
        model_dir = work / f"model-{name}"
        trained = run_step(f"train_{name}", [PY, "-m", "embedtune.cli.app", "train", "--data", str(rows), "--out",
                                             str(model_dir), "--json", "--quiet", "--overwrite", *train_args], env)
        outcome = json.loads(trained.pop("stdout"))
        step["train"] = {"wall_seconds": trained["wall_seconds"], "peak_rss_gb": trained["peak_rss_gb"],
                         "train_seconds": outcome["train_seconds"], "rows": outcome["num_train_pairs"],
                         "precision": outcome.get("precision"), "dropout": outcome["config"].get("dropout"),
                         "dev_history": [{k: e[k] for k in ("epoch", "eval_dev_ndcg@10")}
                                         for e in outcome["dev_history"]], "best_step": outcome["best_step"]}
        for label, folder in (("scifact_test", scifact), ("dbpedia_test", dbpedia)):
            if folder is None:
                continue
            scores = work / f"{name}_{label}.json"
            backend = "torch" if label == "scifact_test" else args.guard_backend
            run_step(f"eval_{name}_{label}", [PY, "-m", "embedtune.cli.app", "eval", "--model", str(model_dir),
                                              "--data", str(folder), "--json", str(scores), "--quiet",
                                              "--backend", backend], env)
            step[f"{label}_ndcg@10"] = json.loads(scores.read_text())["metrics"]["ndcg@10"]
        results.record(name, step)
        results.data["summary"] = summarize(results.data["steps"])  # kept current: a long run may be cut short
        results.save()
    print(json.dumps(results.data["summary"], indent=2))


def summarize(steps: dict) -> dict:
    """Each variant's test scores and its gain over the in-batch-only baseline of the same run."""
    base = steps.get("in_batch_only", {}).get("scifact_test_ndcg@10")
    guard_base = steps.get("base_model", {}).get("dbpedia_test_ndcg@10")
    summary = {}
    for name, step in steps.items():
        if name == "base_model":
            continue
        score = step.get("scifact_test_ndcg@10")
        summary[name] = {"scifact_test_ndcg@10": score, "dbpedia_test_ndcg@10": step.get("dbpedia_test_ndcg@10"),
                         "gain_over_in_batch_only": None if base is None or score is None else round(score - base, 4)}
        guard = step.get("dbpedia_test_ndcg@10")
        if guard_base is not None and guard is not None:
            summary[name]["dbpedia_drop_from_base"] = round(guard_base - guard, 4)
        if "mining" in step:
            summary[name]["rows_kept"] = step["mining"]["rows_kept"]
    return summary


def _write_plain_rows(folder: Path, path: Path) -> None:
    """Every (query, positive) of the train split, as the mined files have them but without negatives."""
    from embedtune.data.beir import load_beir

    data = load_beir(folder, "train")
    pairs = data.training_pairs()
    path.write_text("".join(json.dumps({"query": q, "positive": p}) + "\n"
                            for q, p in zip(pairs.queries, pairs.positives)), encoding="utf-8")


if __name__ == "__main__":
    main()
