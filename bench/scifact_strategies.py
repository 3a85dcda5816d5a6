"""Strategies benchmark: which training recipe does best on SciFact, and what does it cost on dbpedia-5k?

Every recipe trains with `embedtune train` defaults on the same SciFact train rows; all but the
first use the same hard negatives (`embedtune mine --method hybrid`, mined once). Each tuned model
is scored on SciFact test (never used to choose anything) at full size and truncated to
384/256/128/64 dimensions, and on dbpedia-5k (the forgetting guard). Recipes:

- in_batch_mnrl: MultipleNegativesRankingLoss with in-batch negatives only;
- mined: + one mined hard negative per pair;
- matryoshka: mined + MatryoshkaLoss at 384,256,128,64;
- matryoshka_5_epochs: the same for five epochs (its dev score was still rising at the third);
- matryoshka_3_negatives: matryoshka_5_epochs on rows mined with three hard negatives each;
  (these three with --no-matryoshka-rotation: MatryoshkaLoss alone)
- matryoshka_rotation: matryoshka_5_epochs plus the rotation fitted after training (the default);
- matryoshka_3_negatives_rotation: matryoshka_3_negatives plus that rotation;
- distill: mined rows, MarginMSE on the margins of all-mpnet-base-v2 (a bi-encoder teacher: no
  cross-encoder with trained weights installs offline);
- distill_listwise: mined rows, `--loss margin_kl` on the hybrid (BM25 + the model itself) teacher:
  its margins and its ranking of every document in each batch;
- tsdae: mined, starting from the model after `embedtune pretrain --method tsdae` on the SciFact corpus;
- prompts: mined + "query: " / "passage: " prompts;
- guard: mined + the forgetting guard on dbpedia-5k (its own half-split of the queries picks the mix);
- tsdae_guard: the tsdae recipe (same pretrained model) + the guard, which measures forgetting
  against the model TSDAE started from.

`--reuse FILE` copies in_batch_mnrl and mined from a scifact_mining.py result file made with the
same settings (its in_batch_only and hybrid variants) instead of training them again.

    python bench/scifact_strategies.py --num-negatives 1 --guard-backend torch-bf16   # hours on 2 CPU cores
    python bench/scifact_strategies.py --quick                                        # checks the script
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, SHARED_DATA, Results, run_step  # noqa: E402
from scifact_mining import _write_plain_rows  # noqa: E402

PY = sys.executable
CLI = [PY, "-m", "embedtune.cli.app"]
DIMS = "384,256,128,64"
NO_ROTATION = ["--no-matryoshka-rotation"]


@dataclass(frozen=True)
class Recipe:
    mined: bool = True
    negatives: int | None = None  # mined negatives per row [--num-negatives]; each count is mined once
    train: list[str] = field(default_factory=list)
    pretrain: list[str] | None = None  # `embedtune pretrain` flags: train from its output
    pretrained_as: str | None = None  # share that recipe's pretrained model (made once, in --workdir)


RECIPES: dict[str, Recipe] = {
    "in_batch_mnrl": Recipe(mined=False),
    "mined": Recipe(),
    # The first three Matryoshka recipes were measured before the rotation existed: MatryoshkaLoss alone.
    "matryoshka": Recipe(train=["--matryoshka-dims", DIMS, *NO_ROTATION]),
    # Its dev nDCG@10 was still rising at the third (last) epoch: five, with dev picking the checkpoint.
    "matryoshka_5_epochs": Recipe(train=["--matryoshka-dims", DIMS, "--epochs", "5", *NO_ROTATION]),
    # On 283 SciFact train queries held out from training (not test), three mined negatives beat one at every size.
    "matryoshka_3_negatives": Recipe(negatives=3, train=["--matryoshka-dims", DIMS, "--epochs", "5", *NO_ROTATION]),
    # matryoshka_5_epochs with the default rotation after training (bench/matryoshka_dev.py measured it on
    # held-out train queries first).
    "matryoshka_rotation": Recipe(train=["--matryoshka-dims", DIMS, "--epochs", "5"]),
    # On the same held-out train queries, three negatives with the rotation beat one at every size.
    "matryoshka_3_negatives_rotation": Recipe(negatives=3, train=["--matryoshka-dims", DIMS, "--epochs", "5"]),
    "distill": Recipe(train=["--loss", "margin_mse", "--teacher", "all-mpnet-base-v2"]),
    "distill_listwise": Recipe(train=["--loss", "margin_kl", "--teacher", "hybrid"]),
    "tsdae": Recipe(pretrain=["--method", "tsdae"]),
    "prompts": Recipe(train=["--query-prompt", "query: ", "--document-prompt", "passage: "]),
    "guard": Recipe(train=["--guard-data", "{dbpedia}"]),
    "tsdae_guard": Recipe(pretrain=["--method", "tsdae"], pretrained_as="tsdae", train=["--guard-data", "{dbpedia}"]),
}
REUSABLE = {"in_batch_mnrl": "in_batch_only", "mined": "hybrid"}  # our name -> scifact_mining.py's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--num-negatives", type=int, default=1)
    parser.add_argument("--recipes", default=",".join(RECIPES), help="Comma-separated subset of the recipes.")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="A small slice and one epoch: checks the script runs.")
    parser.add_argument("--guard-backend", default="torch", help="`embedtune eval --backend` for dbpedia-5k.")
    parser.add_argument("--pretrain-args", default="--max-steps 600",
                        help="Extra `embedtune pretrain` flags (its budget) for the tsdae recipe.")
    parser.add_argument("--reuse", type=Path, default=None,
                        help="A scifact_mining.py result made with the same settings: copy its in_batch_only "
                             "and hybrid variants as in_batch_mnrl and mined.")
    parser.add_argument("--redo", default="",
                        help="With --continue: comma-separated recipes to measure again (their earlier results are "
                             "dropped, e.g. after a change to the code they exercise).")
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="Add to an existing --result file; recipes it already holds are skipped, and a "
                             "training run that was interrupted in --workdir resumes from its last checkpoint.")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-strategies-"))
    work.mkdir(parents=True, exist_ok=True)
    scifact, dbpedia = args.data / "scifact", args.data / "dbpedia-5k"
    train_args: list[str] = []
    if args.quick:
        sys.path.insert(0, str(ROOT))
        from tests.slices import write_beir_slice, write_query_slice

        scifact = write_beir_slice(scifact, work / "slice", train_qrels=120, test_qrels=40, distractors=200)
        dbpedia = write_query_slice(dbpedia, work / "guard-slice", split="test", queries=20,
                                    judgments_per_query=5, distractors=200)
        train_args = ["--epochs", "1", "--max-seq-length", "64"]
    result_path = args.result or ROOT / "bench" / "results" / (
        "scifact_strategies_quick.json" if args.quick else "scifact_strategies.json")
    results = Results(result_path, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    if args.resume:
        results.continue_earlier()
        for name in filter(None, args.redo.split(",")):
            if results.data["steps"].pop(name, None) is not None:
                print(f"{name}: earlier result dropped (--redo)", flush=True)
    if args.reuse:
        _reuse(results, args.reuse)
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}

    if "base_model" not in results.data["steps"]:
        results.record("base_model", {
            "scifact_test_by_dim": _scores(None, scifact, work / "base_scifact.json", env, "torch", dims=True),
            "dbpedia_test_ndcg@10": _scores(None, dbpedia, work / "base_dbpedia.json", env, args.guard_backend),
            "guard_backend": args.guard_backend})

    plain_rows, mined_rows = work / "in_batch_only.jsonl", work / "mined.jsonl"
    _write_plain_rows(scifact, plain_rows)
    if mined_rows.is_file() and "mined_rows" not in results.data:
        results.data["mined_rows"] = f"{mined_rows} existed before this run (same mine command) and was reused"
    for name in args.recipes.split(","):
        if name in results.data["steps"]:
            print(f"{name}: already in {result_path}, skipped", flush=True)
            continue
        recipe = RECIPES[name]
        step: dict = {}
        negatives = recipe.negatives or args.num_negatives
        rows = mined_rows if negatives == args.num_negatives else work / f"mined-{negatives}.jsonl"
        if recipe.mined and not rows.is_file():
            mined = run_step("mine_hybrid" if rows == mined_rows else f"mine_hybrid_{negatives}",
                             [*CLI, "mine", "--data", str(scifact), "--out", str(rows), "--num-negatives",
                              str(negatives), "--method", "hybrid", "--json", "--quiet", "--overwrite"], env)
            step["mining"] = {**json.loads(mined.pop("stdout")), "wall_seconds": mined["wall_seconds"]}
        base_args: list[str] = []
        if recipe.pretrain is not None:
            step["pretrain"], pretrained = _pretrained(work, recipe.pretrained_as or name, scifact,
                                                       [*recipe.pretrain, *shlex.split(args.pretrain_args)], env)
            base_args = ["--model", str(pretrained)]
        model_dir = work / f"model-{name}"
        extra = [a.format(dbpedia=dbpedia) for a in recipe.train]
        resuming = args.resume and _unfinished(model_dir)
        trained = run_step(f"train_{name}", [*CLI, "train", "--data", str(rows if recipe.mined else plain_rows),
                                             "--out", str(model_dir), "--json", "--quiet",
                                             *([] if resuming else ["--overwrite"]),
                                             *base_args, *train_args, *extra], env)
        outcome = json.loads(trained.pop("stdout"))
        step["train"] = {"wall_seconds": trained["wall_seconds"], "peak_rss_gb": trained["peak_rss_gb"],
                         "resumed_interrupted_run": resuming,
                         "train_seconds": outcome["train_seconds"], "rows": outcome["num_train_pairs"],
                         "dev_history": [{k: e[k] for k in ("epoch", "step", "eval_dev_ndcg@10",
                                                            "eval_dev_ndcg@10_dims_mean") if k in e}
                                         for e in outcome["dev_history"]], "best_step": outcome["best_step"],
                         "guard": outcome.get("guard"), "matryoshka_rotation": outcome.get("matryoshka_rotation")}
        step["scifact_test_by_dim"] = _scores(model_dir, scifact, work / f"{name}_scifact.json", env, "torch",
                                              dims=True)
        step["scifact_test_ndcg@10"] = step["scifact_test_by_dim"][DIMS.split(",")[0]]
        step["dbpedia_test_ndcg@10"] = _scores(model_dir, dbpedia, work / f"{name}_dbpedia.json", env,
                                               args.guard_backend)
        if (outcome.get("matryoshka_rotation") or {}).get("kept"):
            # The same weights without the rotation: what the rotation alone did at each size, on SciFact
            # and on the general-domain guard (a rotation fitted on SciFact could cost dbpedia when cut).
            unrotated = _without_rotation(model_dir, work)
            step["scifact_test_by_dim_unrotated"] = _scores(unrotated, scifact, work / f"{name}_scifact_unrotated.json",
                                                            env, "torch", dims=True)
            step["dbpedia_test_by_dim"] = _scores(model_dir, dbpedia, work / f"{name}_dbpedia_dims.json", env,
                                                  args.guard_backend, dims=True)
            step["dbpedia_test_by_dim_unrotated"] = _scores(unrotated, dbpedia, work / f"{name}_dbpedia_unrotated.json",
                                                            env, args.guard_backend, dims=True)
        results.record(name, step)
        results.data["summary"] = summarize(results.data["steps"])  # kept current: a long run may be cut short
        results.save()
    results.data["summary"] = summarize(results.data["steps"])
    results.save()
    print(json.dumps(results.data["summary"], indent=2))


def _pretrained(work: Path, name: str, scifact: Path, flags: list[str], env: dict) -> tuple[dict, Path]:
    """`embedtune pretrain` into ``work/pretrained-NAME``, or the finished one already there when a
    recipe shares it (``pretrained_as``): what it cost, or where it came from."""
    from embedtune.training.pretrain import RESULT_FILE

    pretrained = work / f"pretrained-{name}"
    if (pretrained / RESULT_FILE).is_file():
        made = json.loads((pretrained / RESULT_FILE).read_text(encoding="utf-8"))
        return {"reused": str(pretrained), "config": made.get("config")}, pretrained
    done = run_step(f"pretrain_{name}", [*CLI, "pretrain", "--corpus", str(scifact), "--out", str(pretrained),
                                         "--overwrite", "--quiet", *flags], env)
    return {"wall_seconds": done["wall_seconds"], "peak_rss_gb": done["peak_rss_gb"]}, pretrained


def _without_rotation(model_dir: Path, work: Path) -> Path:
    """A copy of ``model_dir`` whose modules.json skips the Matryoshka rotation (its Dense module)."""
    import shutil

    copy = work / f"{model_dir.name}-unrotated"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(model_dir, copy)
    modules = [m for m in json.loads((copy / "modules.json").read_text(encoding="utf-8"))
               if not m["type"].endswith(".Dense")]
    (copy / "modules.json").write_text(json.dumps(modules, indent=2), encoding="utf-8")
    return copy


def _unfinished(model_dir: Path) -> bool:
    """True when an interrupted `embedtune train` left ``model_dir``: training it again without
    --overwrite resumes from its last checkpoint (its wall time then covers only the rest)."""
    from embedtune.training.output_dir import RESULT_FILE, RUN_FILE

    return (model_dir / RUN_FILE).is_file() and not (model_dir / RESULT_FILE).is_file()


def _scores(model: Path | None, folder: Path, out: Path, env: dict, backend: str, dims: bool = False):
    """nDCG@10 on the folder's test split (per truncated size with ``dims``)."""
    argv = [*CLI, "eval", "--data", str(folder), "--json", str(out), "--quiet", "--backend", backend]
    if model is not None:
        argv += ["--model", str(model)]
    if dims:
        argv += ["--dims", DIMS]
    run_step(f"eval_{out.stem}", argv, env)
    report = json.loads(out.read_text(encoding="utf-8"))
    if dims:
        return {dim: scores["ndcg@10"] for dim, scores in report["by_dim"].items()}
    return report["metrics"]["ndcg@10"]


def _reuse(results: Results, path: Path) -> None:
    """Copy the two recipes scifact_mining.py already measured with the same settings."""
    earlier = json.loads(path.read_text(encoding="utf-8"))
    for ours, theirs in REUSABLE.items():
        if ours in results.data["steps"] or theirs not in earlier["steps"]:
            continue
        step = dict(earlier["steps"][theirs])
        step["reused_from"] = {"file": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
                               "variant": theirs, "command": earlier["command"]}
        results.record(ours, step)


def summarize(steps: dict) -> dict:
    """Each recipe's SciFact test nDCG@10 (full size and truncated), its gain over in-batch MNRL, and
    its dbpedia-5k drop from the base model."""
    base = steps.get("in_batch_mnrl", {}).get("scifact_test_ndcg@10")
    guard_base = steps.get("base_model", {}).get("dbpedia_test_ndcg@10")
    summary = {}
    for name, step in steps.items():
        if name == "base_model":
            continue
        score, guard = step.get("scifact_test_ndcg@10"), step.get("dbpedia_test_ndcg@10")
        row = {"scifact_test_ndcg@10": score, "dbpedia_test_ndcg@10": guard,
               "gain_over_in_batch_mnrl": None if base is None or score is None else round(score - base, 4)}
        if guard_base is not None and guard is not None:
            row["dbpedia_drop_from_base"] = round(guard_base - guard, 4)
        if "scifact_test_by_dim" in step:
            row["scifact_test_by_dim"] = step["scifact_test_by_dim"]
        for key in ("scifact_test_by_dim_unrotated", "dbpedia_test_by_dim", "dbpedia_test_by_dim_unrotated"):
            if key in step:
                row[key] = step[key]
        if (choice := (step.get("train") or {}).get("guard")) is not None:
            row["guard_alpha"] = choice.get("alpha")
        if "reused_from" in step:
            row["reused_from"] = step["reused_from"]["file"]
        summary[name] = row
    return summary


if __name__ == "__main__":
    main()
