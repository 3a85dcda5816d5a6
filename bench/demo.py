"""Offline demo benchmark: `embedtune demo` exactly as the README runs it, timed end to end.

Records wall time (the issue's budget is 10 minutes on 2 CPU cores), peak memory and the
before/after figures from the demo's own results.json.

    python bench/demo.py            # about 6 minutes on 2 CPU cores
    python bench/demo.py --images   # the image demo (issue 30: recall@1 gain >= 0.3 within 10 minutes)
"""
from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, Results, run_step  # noqa: E402

PY = sys.executable


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", action="store_true", help="Run `embedtune demo --images` instead.")
    parser.add_argument("--result", type=Path, default=None,
                        help="Result file [default: bench/results/demo.json, or demo_images.json with --images].")
    args = parser.parse_args()
    args.result = args.result or ROOT / "bench" / "results" / ("demo_images.json" if args.images else "demo.json")
    metric = "recall@1" if args.images else "ndcg@10"
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    work = Path(tempfile.mkdtemp(prefix="embedtune-demo-"))
    try:
        env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}  # a fresh cache: no head start
        step = run_step("embedtune_demo", [PY, "-m", "embedtune.cli.app", "demo", "--out", str(work / "out"),
                                           *(["--images"] if args.images else [])], env)
        step.pop("stdout")
        demo = json.loads((work / "out" / "results.json").read_text())
        step.update({k: demo[k] for k in ("before", "after", "dataset", "config", "seconds")})
        results.record("embedtune_demo", step)
        before, after = demo["before"][metric], demo["after"][metric]
        results.data["summary"] = {"wall_seconds": step["wall_seconds"], "peak_rss_gb": step["peak_rss_gb"],
                                   f"test_{metric}": {"base": before, "tuned": after, "gain": after - before}}
        results.save()
        print(json.dumps(results.data["summary"], indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
