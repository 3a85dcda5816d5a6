"""Best by default (issue 26): the plain `embedtune train` command against in-batch only and an expert script.

On each data set, in one run on one machine:

- ``embedtune_default``: ``embedtune train --data D`` exactly as a user runs it (``--recipe auto``: the dev
  split picks negatives, the filter and the learning rate);
- ``embedtune_in_batch``: ``--recipe fixed``, today's former default (in-batch negatives only);
- ``embedtune_in_batch_epochsN``: the same for N epochs (does dev still rise after the default 3? A
  schedule may be chosen on dev; the summary gives each run's best dev nDCG@10 and its epoch);
- ``embedtune_extension_epochsN[_lrX]``: ``--recipe fixed`` from ``--start-model`` (a trained run's saved model)
  for N more epochs at learning rate X (default 2.5e-5, half the default's), in-batch negatives: what training on from a run whose dev
  score still rose at its last epoch gains, without rerunning the run before it;
- ``plain_expert``: the plain sentence-transformers script an expert writes (MNRL, no-duplicates batches,
  3 epochs, lr 5e-5, bf16 on, every training pair, last checkpoint: bench/plain_st.py).

Each model is scored once on the data set's test split (after every choice was made on dev) and, for
the forgetting check, on dbpedia-5k. Data sets: SciFact (../shared/data/scifact) and the standard-library
code-search set the demo builds (its own train/test split, at --codesearch-functions functions).
"""
from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from _harness import ROOT, SHARED_DATA, Results, run_step

PY = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--sets", default="scifact,codesearch", help="Comma-separated: scifact, codesearch.")
    parser.add_argument("--runs", default="base,embedtune_default,embedtune_in_batch,plain_expert",
                        help="Comma-separated runs (see the module docstring).")
    parser.add_argument("--codesearch-functions", type=int, default=1200)
    parser.add_argument("--forgetting-sets", default="scifact",
                        help="Comma-separated data sets whose models are also scored on dbpedia-5k.")
    parser.add_argument("--forgetting-runs", default="base,embedtune_default",
                        help="Comma-separated runs scored on dbpedia-5k (the target is the default's drop).")
    parser.add_argument("--start-model", type=Path, default=None,
                        help="The model embedtune_extension_epochsN trains on from (a saved run's folder).")
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "default_recipe.json")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--continue", dest="continue_", action="store_true",
                        help="Keep the steps already in --result and skip them.")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    if args.continue_:
        results.continue_earlier()
    dbpedia = args.data / "dbpedia-5k"
    runs = args.runs.split(",")
    for name in args.sets.split(","):
        folder = _data_set(name, args, work)
        for run in runs:
            key = f"{name}:{run}"
            # A cache of each run's own: a training run must not read document embeddings that another
            # run's eval left (the base model's, which mining would reuse, hiding its cost).
            env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache" / f"{name}-{run}")}
            model = Path(_base_model()) if run == "base" else work / f"{name}-{run}"
            forgetting = name in args.forgetting_sets.split(",") and run in args.forgetting_runs.split(",")
            if key in results.data["steps"]:
                earlier = results.data["steps"][key]
                if forgetting and "dbpedia" not in earlier and model.is_dir():
                    earlier["dbpedia"] = _score(f"{key}:dbpedia", model, dbpedia, work, env)
                    results.record(key, earlier)
                continue
            step = {"wall_seconds": 0.0} if run == "base" else _train(run, folder, model, work, env,
                                                                      args.start_model)
            step["test"] = _score(f"{key}:test", model, folder, work, env)
            if forgetting:
                step["dbpedia"] = _score(f"{key}:dbpedia", model, dbpedia, work, env)
            results.record(key, step)
    results.data["summary"] = summarize(results.data["steps"])
    results.save()
    print(json.dumps(results.data["summary"], indent=2))


def _data_set(name: str, args: argparse.Namespace, work: Path) -> Path:
    if name == "scifact":
        return args.data / "scifact"
    if name == "codesearch":
        folder = work / "codesearch"
        if not (folder / "corpus.jsonl").is_file():
            from embedtune.demo.codesearch import build_codesearch_folder

            build_codesearch_folder(folder, max_functions=args.codesearch_functions, seed=42)
        return folder
    raise SystemExit(f"unknown data set {name}")


def _train(run: str, folder: Path, model: Path, work: Path, env: dict[str, str], start: Path | None) -> dict:
    longer = re.fullmatch(r"embedtune_in_batch_epochs(\d+)", run)
    extension = re.fullmatch(r"embedtune_extension_epochs(\d+)(?:_lr([0-9.e-]+))?", run)
    if run in ("embedtune_default", "embedtune_in_batch") or longer or extension:
        extra = [] if run == "embedtune_default" else ["--recipe", "fixed"]
        if longer:
            extra += ["--epochs", longer.group(1)]
        if extension:
            if start is None:
                raise SystemExit(f"{run} needs --start-model")
            extra += ["--model", str(start), "--epochs", extension.group(1), "--lr", extension.group(2) or "2.5e-5"]
        step = run_step(run, [PY, "-m", "embedtune.cli.app", "train", "--data", str(folder), "--out", str(model),
                              "--eval-split", "none", *extra, "--json", "--quiet"], env)
        result = json.loads(step.pop("stdout"))
        step.update({k: result.get(k) for k in ("train_seconds", "best_step", "num_train_pairs", "config",
                                                "precision", "recipe", "dev_history")})
        return step
    if run == "plain_expert":
        pairs = work / f"{folder.name}-train-pairs.jsonl"
        _write_all_training_pairs(folder, pairs)
        out = work / f"{folder.name}-plain.json"
        step = run_step(run, [PY, "bench/plain_st.py", "train", "--model", _base_model(), "--pairs", str(pairs),
                              "--out", str(model), "--epochs", "3", "--lr", "5e-5", "--batch-size", "32",
                              "--bf16", "--result", str(out)])
        step.pop("stdout")
        step.update(json.loads(out.read_text()))
        return step
    raise SystemExit(f"unknown run {run}")


def _score(name: str, model: Path, data: Path, work: Path, env: dict[str, str], extra: Sequence[str] = ()) -> dict:
    """nDCG@10 and friends on the test split, by embedtune eval (exact fp32 unless ``extra`` says otherwise,
    trec_eval-identical metrics)."""
    out = work / f"{name.replace(':', '-')}.json"
    step = run_step(name, [PY, "-m", "embedtune.cli.app", "eval", "--model", str(model), "--data", str(data),
                           "--split", "test", *extra, "--json", str(out), "--quiet"], env)
    step.pop("stdout")
    step["metrics"] = json.loads(out.read_text())["metrics"]
    return step


def _write_all_training_pairs(folder: Path, path: Path) -> None:
    """Every (query, positive) of qrels/train.tsv: the expert script has no dev carve."""
    from embedtune.data.beir import load_beir

    pairs = load_beir(folder, "train").training_pairs()
    rows = [{"query": q, "positive": d} for q, d in zip(pairs.queries, pairs.positives)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _base_model() -> str:
    from embedtune.models import resolve_model

    return resolve_model(None)


def summarize(steps: dict) -> dict:
    """Per data set: test and dbpedia nDCG@10 of each run, the default's margins, and wall times."""
    summary: dict = {}
    for key, step in steps.items():
        name, run = key.split(":")
        entry = summary.setdefault(name, {})
        entry[run] = {"test_ndcg@10": round(step["test"]["metrics"]["ndcg@10"], 4),
                      "train_wall_seconds": step["wall_seconds"]}
        entry[run].update(best_dev(step.get("dev_history") or []))
        if "dbpedia" in step:
            entry[run]["dbpedia_ndcg@10"] = round(step["dbpedia"]["metrics"]["ndcg@10"], 4)
        if step.get("recipe"):
            entry[run]["recipe_chosen"] = step["recipe"]["chosen"]
            entry[run].update(time_breakdown(step))
    for name, entry in summary.items():  # seconds compare only within one run (one commit, one CPU's load)
        commits = {(steps.get(f"{name}:{run}", {}).get("run") or {}).get("commit")
                   for run in ("embedtune_default", "embedtune_in_batch")}
        if len(commits) > 1:
            entry["same_run_times"] = False
    for entry in summary.values():
        default = entry.get("embedtune_default")
        for other in ("embedtune_in_batch", "plain_expert"):
            if default and other in entry:
                entry[f"default_minus_{other}"] = round(default["test_ndcg@10"] - entry[other]["test_ndcg@10"], 4)
        if default and "base" in entry and "dbpedia_ndcg@10" in default:
            entry["default_dbpedia_drop"] = round(entry["base"]["dbpedia_ndcg@10"] - default["dbpedia_ndcg@10"], 4)
        if default and "embedtune_in_batch" in entry and entry.get("same_run_times", True):
            in_batch = entry["embedtune_in_batch"]["train_wall_seconds"]
            entry["default_time_ratio"] = round(default["train_wall_seconds"] / in_batch, 2)
            if "winner_seconds" in default:  # the chosen recipe's own training, without the search around it
                entry["winner_only_time_ratio"] = round(default["winner_seconds"] / in_batch, 2)
    return summary


def best_dev(history: list[dict]) -> dict:
    """The final run's best dev nDCG@10 and the epoch it came at (empty without a dev history)."""
    scored = [h for h in history if "eval_dev_ndcg@10" in h]
    if not scored:
        return {}
    best = max(scored, key=lambda h: h["eval_dev_ndcg@10"])
    return {"best_dev_ndcg@10": round(best["eval_dev_ndcg@10"], 4), "best_dev_epoch": best.get("epoch")}


def time_breakdown(step: dict) -> dict:
    """Where a ``--recipe auto`` run's wall time went: the search (every candidate's first epoch, and
    mining where the training JSON records it apart), the winner's own training (its first epoch plus
    the final run: what the chosen recipe costs without the search around it, mining not included),
    and the final run alone. Empty for steps whose training JSON has no recipe account."""
    recipe = step.get("recipe") or {}
    winner = next((c for c in recipe.get("candidates", []) if c["name"] == recipe.get("chosen")), None)
    if winner is None or "train_seconds" not in step:
        return {}
    probes = sum(c["seconds"] for c in recipe["candidates"])
    breakdown = {"search_seconds": recipe["seconds"], "candidate_seconds": round(probes, 1),
                 "final_seconds": step["train_seconds"]}
    if any("mining_seconds" in c for c in recipe["candidates"]):
        breakdown["mining_seconds"] = round(sum(c.get("mining_seconds", 0.0) for c in recipe["candidates"]), 1)
    breakdown["winner_seconds"] = round(winner["seconds"] - winner.get("mining_seconds", 0.0)
                                        + step["train_seconds"], 1)
    if recipe.get("continued"):  # the second look: the final seconds include the runner-up's continued epochs
        breakdown["continuation_seconds"] = recipe["continued"]["seconds"]
        breakdown["continued_kept"] = recipe["continued"]["kept"]
    if recipe.get("extended"):  # training on while dev still rose: also inside the final seconds
        breakdown["extension_seconds"] = recipe["extended"]["seconds"]
        breakdown["extension_kept"] = recipe["extended"]["kept"]
        breakdown["extension_best_dev"] = [recipe["extended"]["best_dev_before"], recipe["extended"]["best_dev_after"]]
    return breakdown


if __name__ == "__main__":
    main()
