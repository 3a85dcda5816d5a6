"""Supervised SciFact benchmark: `embedtune train` defaults vs a plain sentence-transformers script.

Both sides train on the same pairs (SciFact train minus the dev queries embedtune holds out) with
the same hyper-parameters, on the same machine, in this one run; each step runs in its own
process so its wall time and peak memory are its own. Test labels are only scored, never used
to choose anything.

    python bench/scifact_supervised.py            # about 70 minutes on 2 CPU cores
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

from embedtune.config import TrainConfig  # noqa: E402
from embedtune.models import resolve_model  # noqa: E402
from embedtune.training.data_prep import prepare_data  # noqa: E402

PY = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "scifact_supervised.json")
    parser.add_argument("--workdir", type=Path, default=None, help="Where models are written (default: a temp dir).")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    scifact, dbpedia = args.data / "scifact", args.data / "dbpedia-5k"
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    config = TrainConfig()
    base = resolve_model(None)

    # The exact pairs embedtune trains on, so the plain script gets the same data.
    prepared = prepare_data(scifact, split="train", eval_split=None, dev_fraction=config.dev_fraction,
                            max_dev_queries=config.max_dev_queries, seed=config.seed)
    pairs_file = work / "train_pairs.jsonl"
    pairs_file.write_text("".join(json.dumps({"query": q, "positive": p}) + "\n"
                                  for q, p in zip(prepared.train.queries, prepared.train.positives)))
    settings = {"epochs": config.epochs, "lr": config.resolved_learning_rate, "batch_size": config.batch_size,
                "max_seq_length": config.max_seq_length, "warmup": config.warmup_ratio, "seed": config.seed,
                "train_pairs": len(prepared.train), "dev_queries": len(prepared.dev.queries)}
    results.data["settings"] = settings

    def plain_eval(key: str, model: str, data: Path) -> None:
        out = work / f"{key}.json"
        step = run_step(key, [PY, "bench/plain_st.py", "eval", "--model", model, "--data", str(data),
                              "--result", str(out)])
        step["metrics"] = json.loads(out.read_text())["metrics"]
        results.record(key, step)

    plain_eval("plain_base_scifact", base, scifact)
    plain_eval("plain_base_dbpedia", base, dbpedia)
    plain_model = str(work / "plain-model")
    out = work / "plain_train.json"
    step = run_step("plain_train", [PY, "bench/plain_st.py", "train", "--model", base, "--pairs", str(pairs_file),
                                    "--out", plain_model, "--epochs", str(config.epochs),
                                    "--lr", str(config.resolved_learning_rate), "--batch-size",
                                    str(config.batch_size), "--warmup", str(config.warmup_ratio),
                                    "--max-seq-length", str(config.max_seq_length), "--seed", str(config.seed),
                                    "--result", str(out)])
    step.update(json.loads(out.read_text()))
    results.record("plain_train", step)
    plain_eval("plain_tuned_scifact", plain_model, scifact)
    plain_eval("plain_tuned_dbpedia", plain_model, dbpedia)

    # embedtune with its defaults, exactly as a user runs it (fresh embedding cache: no head start).
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}
    tuned = work / "embedtune-model"
    step = run_step("embedtune_train", [PY, "-m", "embedtune.cli.app", "train", "--data", str(scifact),
                                        "--out", str(tuned), "--json", "--quiet"], env)
    result = json.loads(step.pop("stdout"))
    step.update({k: result[k] for k in ("before", "after", "train_seconds", "best_step", "dev_history",
                                        "num_train_pairs", "config", "precision")
                 if k in result})
    results.record("embedtune_train", step)
    dbp_json = work / "embedtune_dbpedia.json"
    step = run_step("embedtune_tuned_dbpedia", [PY, "-m", "embedtune.cli.app", "eval", "--model", str(tuned),
                                                "--data", str(dbpedia), "--json", str(dbp_json), "--quiet"], env)
    step["metrics"] = json.loads(dbp_json.read_text())["metrics"]
    results.record("embedtune_tuned_dbpedia", step)

    results.data["summary"] = summarize(results.data["steps"])
    results.save()
    print(json.dumps(results.data["summary"], indent=2))


def summarize(steps: dict) -> dict:
    """The headline figures: quality, forgetting, time and memory, embedtune vs plain."""
    for step in steps.values():
        step.pop("stdout", None)
    ours, plain = steps["embedtune_train"], steps["plain_train"]
    base_dbp = steps["plain_base_dbpedia"]["metrics"]["ndcg@10"]
    return {
        "scifact_test_ndcg@10": {
            "base_plain_st": steps["plain_base_scifact"]["metrics"]["ndcg@10"],
            "base_embedtune": ours["before"]["ndcg@10"],
            "tuned_plain_st": steps["plain_tuned_scifact"]["metrics"]["ndcg@10"],
            "tuned_embedtune": ours["after"]["ndcg@10"],
        },
        "dbpedia_test_ndcg@10": {
            "base": base_dbp,
            "tuned_plain_st": steps["plain_tuned_dbpedia"]["metrics"]["ndcg@10"],
            "tuned_embedtune": steps["embedtune_tuned_dbpedia"]["metrics"]["ndcg@10"],
            "embedtune_drop": base_dbp - steps["embedtune_tuned_dbpedia"]["metrics"]["ndcg@10"],
        },
        "training_seconds": {"plain_st": round(plain["train_seconds"], 1), "embedtune": ours["train_seconds"],
                             "ratio_plain_over_embedtune": round(plain["train_seconds"] / ours["train_seconds"], 3),
                             "note": "embedtune's time includes its dev evaluations"},
        "peak_rss_gb": {"plain_st_train": plain["peak_rss_gb"], "embedtune_train": ours["peak_rss_gb"]},
    }


if __name__ == "__main__":
    main()
