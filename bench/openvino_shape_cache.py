"""Memory of a long-running OpenVINO encoder fed requests of every size, by the CPU plugin's shape cache.

Why: OpenVINO's CPU plugin keeps compiled state for up to 5,000 input shapes (CPU_RUNTIME_CACHE_CAPACITY)
and a server's requests vary in rows and length, so its memory grew with uptime. This feeds one
LeanEncoder (as `embedtune serve --backend lean-openvino-int8` does) the same seeded stream of requests
(1-16 texts of 3-300 words cut from SciFact abstracts, queries and documents alternating) and records the
peak RSS after each quarter and the seconds, for one capacity per process.

Usage: python bench/openvino_shape_cache.py EXPORT_FOLDER REQUESTS CAPACITY [CAPACITY ...] --result OUT.json
(EXPORT_FOLDER from `embedtune export --format openvino-int8`; a capacity of "default" leaves OpenVINO's own.)
"""
import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from _harness import SHARED_DATA, Results


def one(folder: str, requests: int, capacity: str) -> dict:
    """Run in this process: the request stream through one encoder with ``capacity``."""
    import embedtune.inference.openvino_backend as backend
    from embedtune.inference.lean import LeanEncoder

    if capacity == "default":  # OpenVINO's own: compile without the key
        import openvino as ov
        compile_model = ov.Core.compile_model

        def without_key(self, model, device, config=None):
            return compile_model(self, model, device, {k: v for k, v in (config or {}).items()
                                                        if k != "CPU_RUNTIME_CACHE_CAPACITY"})
        ov.Core.compile_model = without_key
    else:
        backend.SHAPE_CACHE = int(capacity)
    docs = [json.loads(line)["text"] for line in open(SHARED_DATA / "scifact" / "corpus.jsonl")][:3000]
    words = " ".join(docs).split()
    rng = random.Random(0)
    encoder = LeanEncoder(folder, int8=True)
    encoder.encode(["warm up"])
    peaks = []
    start = time.perf_counter()
    for i in range(requests):
        texts = [" ".join(words[s:s + rng.randint(3, 300)])
                 for s in (rng.randrange(len(words) - 400) for _ in range(rng.randint(1, 16)))]
        encoder.encode(texts, "query" if i % 2 else "document")
        if (i + 1) % max(1, requests // 4) == 0:
            peaks.append(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3))
    return {"capacity": capacity, "requests": requests, "seconds": round(time.perf_counter() - start, 1),
            "peak_rss_gb_by_quarter": peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("requests", type=int)
    parser.add_argument("capacities", nargs="+")
    parser.add_argument("--result")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child process: one capacity
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.folder, args.requests, args.capacities[0])))
        return
    results = Results(Path(args.result), "python bench/openvino_shape_cache.py " + " ".join(sys.argv[1:])) \
        if args.result else None
    for capacity in args.capacities:  # each in its own process: peaks are its own
        out = subprocess.run([sys.executable, __file__, args.folder, str(args.requests), capacity, "--one"],
                             capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        print(row, flush=True)
        if results:  # saved after each capacity, atomically
            results.record(f"capacity_{capacity}", row)


if __name__ == "__main__":
    main()
