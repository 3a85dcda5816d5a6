"""Matryoshka dev benchmark: which training variant keeps truncated embeddings closest to full size?

SciFact's test split must never choose a method, so the variants are judged here on SciFact
*train* queries held out from training: the 809 train queries (sorted ids, shuffled with
random.Random(7)) are cut into 283 held out and 526 kept. The kept queries are mined once per
negative count (`embedtune mine --method hybrid`), every variant trains on those rows with
`embedtune train` (its own dev carve picks the checkpoint, as for users), and each tuned model is
scored on the held-out queries against the whole SciFact corpus at every size (`embedtune eval
--dims`). The figure of merit is the gap between full size and 128 dimensions. Variants without
`_rotation` in their name train with --no-matryoshka-rotation (MatryoshkaLoss alone).

    python bench/matryoshka_dev.py --variants mrl,no_64 --workdir /tmp/mrl-dev    # ~10 min a variant on 2 cores
    python bench/matryoshka_dev.py --quick                                        # checks the script
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, SHARED_DATA, Results, run_step  # noqa: E402

PY = sys.executable
CLI = [PY, "-m", "embedtune.cli.app"]
DIMS = "384,256,128,64"
HELD_OUT = 283  # of SciFact's 809 train queries; the rest train
SEED = 7
SPLIT = "heldout"  # the carve's scored split: train queries, never SciFact test


@dataclass(frozen=True)
class Variant:
    negatives: int = 1
    train: list[str] = field(default_factory=list)


RECIPE = ["--epochs", "4"]
NO_ROTATION = ["--no-matryoshka-rotation"]  # MatryoshkaLoss alone, as before the rotation existed
VARIANTS: dict[str, Variant] = {
    "full_only": Variant(train=RECIPE),
    "mrl": Variant(train=[*RECIPE, "--matryoshka-dims", DIMS, *NO_ROTATION]),
    "no_64": Variant(train=[*RECIPE, "--matryoshka-dims", "384,256,128", *NO_ROTATION]),
    "weight_128": Variant(train=[*RECIPE, "--matryoshka-dims", DIMS, "--matryoshka-weights", "1,1,2,1", *NO_ROTATION]),
    "mrl_3_negatives": Variant(negatives=3, train=[*RECIPE, "--matryoshka-dims", DIMS, *NO_ROTATION]),
    "mrl_rotation": Variant(train=[*RECIPE, "--matryoshka-dims", DIMS]),  # the rotation is on by default
    "mrl_3_negatives_rotation": Variant(negatives=3, train=[*RECIPE, "--matryoshka-dims", DIMS]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--variants", default="mrl,no_64", help=f"Comma-separated, of: {', '.join(VARIANTS)}.")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--backend", default="onnx", help="`embedtune eval --backend` (onnx: exact fp32).")
    parser.add_argument("--base", action="store_true", help="Also score the untrained model at every size.")
    parser.add_argument("--quick", action="store_true", help="A small slice and one epoch: checks the script runs.")
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="Add to an existing --result file; variants it already holds are skipped.")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-mrl-dev-"))
    work.mkdir(parents=True, exist_ok=True)
    scifact, held_out, extra = args.data / "scifact", HELD_OUT, []
    if args.quick:
        sys.path.insert(0, str(ROOT))
        from tests.slices import write_beir_slice

        scifact = write_beir_slice(scifact, work / "slice", train_qrels=160, test_qrels=0, distractors=200)
        held_out, extra = 40, ["--epochs", "1", "--max-seq-length", "64"]
    result_path = args.result or ROOT / "bench" / "results" / (
        "matryoshka_dev_quick.json" if args.quick else "matryoshka_dev.json")
    results = Results(result_path, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    if args.resume:
        results.continue_earlier()
    carve = write_carve(scifact, work / "carve", held_out)
    results.data["carve"] = {"held_out_queries": held_out, "seed": SEED, "scored_split": SPLIT,
                             "note": "SciFact train queries only; SciFact test is never read"}
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}
    if args.base and "base_model" not in results.data["steps"]:
        results.record("base_model", {"by_dim": _scores(None, carve, work / "base.json", env, args.backend)})
    for name in args.variants.split(","):
        if name in results.data["steps"]:
            print(f"{name}: already in {result_path}, skipped", flush=True)
            continue
        variant = VARIANTS[name]
        rows = work / f"mined-{variant.negatives}.jsonl"
        step: dict = {"train_flags": variant.train}
        if not rows.is_file():
            mined = run_step(f"mine_{variant.negatives}", [
                *CLI, "mine", "--data", str(carve), "--out", str(rows), "--num-negatives", str(variant.negatives),
                "--method", "hybrid", "--backend", args.backend, "--json", "--quiet", "--overwrite"], env)
            step["mining"] = {**json.loads(mined.pop("stdout")), "wall_seconds": mined["wall_seconds"]}
        model_dir = work / f"model-{name}"
        trained = run_step(f"train_{name}", [*CLI, "train", "--data", str(rows), "--out", str(model_dir), "--json",
                                             "--quiet", "--overwrite", *variant.train, *extra], env)
        outcome = json.loads(trained.pop("stdout"))
        step["train"] = {"wall_seconds": trained["wall_seconds"], "rows": outcome["num_train_pairs"],
                         "best_step": outcome["best_step"], "rotation": outcome.get("matryoshka_rotation")}
        step["by_dim"] = _scores(model_dir, carve, work / f"{name}.json", env, args.backend)
        results.record(name, step)
        results.data["summary"] = summarize(results.data["steps"])
        results.save()
    print(json.dumps(results.data.get("summary", {}), indent=2))


def write_carve(scifact: Path, dst: Path, held_out: int) -> Path:
    """A BEIR folder over the same corpus whose `train` split is the kept train queries and whose
    `heldout` split is the held-out ones (their SciFact train judgments)."""
    with open(scifact / "qrels" / "train.tsv", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t"))[1:]
    qids = sorted({r[0] for r in rows})
    random.Random(SEED).shuffle(qids)
    scored = set(qids[:held_out])
    (dst / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        link = dst / name
        if not link.exists():
            link.symlink_to((scifact / name).resolve())
    for split, keep in (("train", lambda q: q not in scored), (SPLIT, lambda q: q in scored)):
        text = "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rows if keep(r[0]))
        (dst / "qrels" / f"{split}.tsv").write_text(text, encoding="utf-8")
    return dst


def _scores(model: Path | None, carve: Path, out: Path, env: dict, backend: str) -> dict[str, float]:
    """nDCG@10 on the held-out queries at every size."""
    argv = [*CLI, "eval", "--data", str(carve), "--split", SPLIT, "--dims", DIMS, "--json", str(out), "--quiet",
            "--backend", backend]
    if model is not None:
        argv += ["--model", str(model)]
    run_step(f"eval_{out.stem}", argv, env)
    report = json.loads(out.read_text(encoding="utf-8"))
    return {dim: scores["ndcg@10"] for dim, scores in report["by_dim"].items()}


def summarize(steps: dict) -> dict:
    """Each variant's nDCG@10 per size and how far each truncated size falls below full size."""
    summary = {}
    for name, step in steps.items():
        by_dim = step["by_dim"]
        full = by_dim[DIMS.split(",")[0]]
        summary[name] = {"by_dim": by_dim,
                         "gap_to_full": {d: round(full - s, 4) for d, s in by_dim.items() if d != DIMS.split(",")[0]}}
    return summary


if __name__ == "__main__":
    main()
