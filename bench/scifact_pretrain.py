"""Domain-adaptive pre-training benchmark: does TSDAE (or MLM) on the SciFact corpus, before
contrastive training, beat contrastive training from the base model?

Each method pre-trains all-MiniLM-L6-v2 on SciFact's raw abstracts (`embedtune pretrain`), then
trains with `embedtune train` defaults on the same file of SciFact-train (query, positive) rows as
the in-batch-only baseline of bench/scifact_mining.py, and is scored on SciFact test (never used
to choose anything) and on dbpedia-5k (the forgetting guard). The baseline's scores are read from
bench/results/scifact_mining.json (its train settings are the defaults used here), or retrained in
this run with --with-baseline.

    python bench/scifact_pretrain.py                        # ~25 minutes per method on 2 quiet CPU cores
    python bench/scifact_pretrain.py --quick                # a slice and a few steps: checks the script
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
from scifact_mining import _write_plain_rows  # noqa: E402  the baseline's training rows, written the same way

PY = sys.executable
BASELINE_FILE = ROOT / "bench" / "results" / "scifact_mining.json"
# Steps per method: ~10 minutes each on 2 CPU cores (TSDAE: 8 sentences of ~39 tokens a step;
# MLM: 8 chunks of up to 256 tokens). One TSDAE epoch over SciFact's 48,722 sentences is 6,091 steps.
DEFAULT_STEPS = "tsdae=1000,mlm=250"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--methods", default="tsdae", help="Comma-separated: tsdae, mlm.")
    parser.add_argument("--steps", default=DEFAULT_STEPS, help="Pre-training steps per method, e.g. tsdae=1000,mlm=250.")
    parser.add_argument("--max-docs", type=int, default=None, help="Pre-train on the first N documents only.")
    parser.add_argument("--with-baseline", action="store_true",
                        help="Also train the in-batch-only baseline from the base model in this run.")
    parser.add_argument("--score-pretrained", action="store_true",
                        help="Also score each pre-trained model before contrastive training on SciFact test.")
    parser.add_argument("--guard-backend", default="torch-bf16",
                        help="`embedtune eval --backend` for dbpedia-5k (as the recorded baseline: torch-bf16).")
    parser.add_argument("--train-args", default="", help="Extra `embedtune train` flags (the baseline used none).")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="A small slice and a few steps: checks the script runs.")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-pretrain-"))
    work.mkdir(parents=True, exist_ok=True)
    scifact, dbpedia = args.data / "scifact", args.data / "dbpedia-5k"
    steps = {k: int(v) for k, v in (item.split("=") for item in args.steps.split(","))}
    pretrain_args: list[str] = [] if args.max_docs is None else ["--max-docs", str(args.max_docs)]
    train_args = shlex.split(args.train_args)
    if args.quick:
        sys.path.insert(0, str(ROOT))
        from tests.slices import write_beir_slice

        scifact = write_beir_slice(scifact, work / "slice", train_qrels=120, test_qrels=40, distractors=200)
        dbpedia = None
        steps = {k: min(v, 5) for k, v in steps.items()}
        pretrain_args = ["--max-docs", "100", "--max-seq-length", "64"]
        train_args += ["--epochs", "1", "--max-seq-length", "64"]
    result_path = args.result or ROOT / "bench" / "results" / (
        "scifact_pretrain_quick.json" if args.quick else "scifact_pretrain.json")
    results = Results(result_path, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}
    rows = work / "in_batch_only.jsonl"
    _write_plain_rows(scifact, rows)

    variants: list[tuple[str, str | None]] = [("in_batch_only", None)] if args.with_baseline else []
    for method in args.methods.split(","):
        if method not in steps:
            raise SystemExit(f"--steps gives no step count for {method} (it has: {', '.join(steps)})")
        pretrained = work / f"pretrained-{method}"
        done = run_step(f"pretrain_{method}", [PY, "-m", "embedtune.cli.app", "pretrain", "--corpus", str(scifact),
                                                "--out", str(pretrained), "--method", method, "--max-steps",
                                                str(steps[method]), *pretrain_args, "--json", "--quiet",
                                                "--overwrite"], env)
        outcome = json.loads(done.pop("stdout"))
        losses = outcome["loss_history"]
        step = {"pretrain": {"wall_seconds": done["wall_seconds"], "peak_rss_gb": done["peak_rss_gb"],
                             "train_seconds": outcome["train_seconds"], "steps": outcome["num_steps"],
                             "documents": outcome["num_documents"], "texts": outcome["num_texts"],
                             "texts_seen": outcome["num_steps"] * outcome["config"]["batch_size"],
                             "precision": outcome["precision"], "config": outcome["config"],
                             "loss_first": losses[0]["loss"] if losses else None,
                             "loss_last": losses[-1]["loss"] if losses else None}}
        if args.score_pretrained:
            step["pretrained_only_scifact_test_ndcg@10"] = _score(f"{method}_pretrained_only", pretrained, scifact,
                                                                  "torch", work, env)
        results.record(method, step)
        variants.append((method, str(pretrained)))

    for name, model in variants:
        step = results.data["steps"].get(name, {})
        model_dir = work / f"model-{name}"
        trained = run_step(f"train_{name}", [PY, "-m", "embedtune.cli.app", "train", "--data", str(rows), "--out",
                                             str(model_dir), "--json", "--quiet", "--overwrite",
                                             *(["--model", model] if model else []), *train_args], env)
        outcome = json.loads(trained.pop("stdout"))
        step["train"] = {"wall_seconds": trained["wall_seconds"], "train_seconds": outcome["train_seconds"],
                         "rows": outcome["num_train_pairs"], "precision": outcome["precision"],
                         "dropout": outcome["config"]["dropout"], "best_step": outcome["best_step"],
                         "dev_history": [{k: e[k] for k in ("epoch", "eval_dev_ndcg@10")}
                                         for e in outcome["dev_history"]]}
        step["scifact_test_ndcg@10"] = _score(f"{name}_scifact_test", model_dir, scifact, "torch", work, env)
        if dbpedia is not None:
            step["dbpedia_test_ndcg@10"] = _score(f"{name}_dbpedia_test", model_dir, dbpedia, args.guard_backend,
                                                  work, env)
        results.record(name, step)
        results.data["summary"] = summarize(results.data["steps"], comparable=not args.quick)
        results.save()
    print(json.dumps(results.data.get("summary"), indent=2))


def _score(name: str, model: Path, data: Path, backend: str, work: Path, env: dict[str, str]) -> float:
    scores = work / f"{name}.json"
    run_step(f"eval_{name}", [PY, "-m", "embedtune.cli.app", "eval", "--model", str(model), "--data", str(data),
                              "--json", str(scores), "--quiet", "--backend", backend], env)
    return json.loads(scores.read_text())["metrics"]["ndcg@10"]


def summarize(steps: dict, comparable: bool) -> dict:
    """Each variant's test scores and its gain over the in-batch-only baseline (this run's, else the recorded one)."""
    baseline = steps.get("in_batch_only")
    source = "this run"
    if baseline is None and comparable and BASELINE_FILE.is_file():
        baseline = json.loads(BASELINE_FILE.read_text(encoding="utf-8"))["steps"].get("in_batch_only")
        source = f"{BASELINE_FILE.relative_to(ROOT)} (in_batch_only)"
    summary: dict = {"baseline": {"source": source if baseline else None,
                                  "scifact_test_ndcg@10": (baseline or {}).get("scifact_test_ndcg@10"),
                                  "dbpedia_test_ndcg@10": (baseline or {}).get("dbpedia_test_ndcg@10")}}
    for name, step in steps.items():
        if "scifact_test_ndcg@10" not in step or name == "in_batch_only":
            continue
        entry = {k: step.get(k) for k in ("scifact_test_ndcg@10", "dbpedia_test_ndcg@10")}
        for key, value in entry.copy().items():
            base = summary["baseline"][key]
            if value is not None and base is not None:
                entry[key.replace("_ndcg@10", "_gain_over_baseline")] = round(value - base, 4)
        summary[name] = entry
    return summary


if __name__ == "__main__":
    main()
