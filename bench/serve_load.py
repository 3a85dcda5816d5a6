"""Load test of `embedtune serve` on loopback: requests/s and p50/p99 latency at a few concurrency levels.

The server runs in its own process on 127.0.0.1 (nothing else is contacted); each level holds
``--concurrency`` clients sending requests back to back for ``--seconds`` (or ``--max-requests``),
after a short warm-up. Every non-200 answer or transport error is counted: the result to look
for is ``errors: 0`` at every level. Client and server share this machine's cores, so the
figures are a floor, not what a dedicated server would do.

    python bench/serve_load.py                               # ~1.5 minutes: levels 1,4,16, 15 s each
    python bench/serve_load.py --endpoint search --seconds 10
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, SHARED_DATA, Results  # noqa: E402

HOST = "127.0.0.1"  # loopback only, by design


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def small_index(workdir: Path, documents: int) -> Path:
    """An index of the first ``documents`` SciFact abstracts, built with `embedtune index`."""
    corpus = workdir / "corpus.jsonl"
    with open(SHARED_DATA / "scifact" / "corpus.jsonl", encoding="utf-8") as f:
        corpus.write_text("".join(line for line, _ in zip(f, range(documents))), encoding="utf-8")
    out = workdir / "index"
    subprocess.run([sys.executable, "-m", "embedtune.cli.app", "index", "--data", str(corpus), "--out", str(out),
                    "--overwrite", "-q"], check=True, cwd=ROOT, env=_env())
    return out


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT / "src"), "EMBEDTUNE_API_KEY": ""}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


async def hold_load(url: str, endpoint: str, queries: list[str], concurrency: int, seconds: float,
                    max_requests: int) -> dict:
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    stop_at = time.perf_counter() + seconds

    async def client_loop(worker: int, client: httpx.AsyncClient) -> None:
        nonlocal sent
        i = worker
        while time.perf_counter() < stop_at and sent < max_requests:
            sent += 1
            query = queries[i % len(queries)]
            i += concurrency
            payload = {"input": query} if endpoint == "embeddings" else {"query": query, "top_k": 10}
            start = time.perf_counter()
            try:
                response = await client.post("/v1/embeddings" if endpoint == "embeddings" else "/search", json=payload)
                if response.status_code != 200:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1
                    continue
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append(time.perf_counter() - start)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(client_loop(w, client) for w in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"concurrency": concurrency, "seconds": round(elapsed, 2), "requests_ok": len(latencies),
            "errors": sum(errors.values()), "errors_by_kind": errors,
            "requests_per_second": round(len(latencies) / elapsed, 2),
            "p50_ms": round(1000 * percentile(latencies, 50), 1), "p99_ms": round(1000 * percentile(latencies, 99), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument("--index", type=Path, default=None, help="An index built with --model [a 500-abstract one].")
    parser.add_argument("--documents", type=int, default=500, help="Abstracts in the index built when --index is not given.")
    parser.add_argument("--endpoint", choices=["embeddings", "search"], default="embeddings")
    parser.add_argument("--levels", default="1,4,16", help="Comma-separated concurrency levels.")
    parser.add_argument("--seconds", type=float, default=15.0, help="How long each level is held (at most 60).")
    parser.add_argument("--max-requests", type=int, default=5000, help="Cap on requests per level.")
    parser.add_argument("--warmup", type=float, default=3.0, help="Seconds of load before the levels, not recorded.")
    parser.add_argument("--threads", type=int, default=None, help="Passed to `embedtune serve --threads`.")
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "serve_load.json")
    args = parser.parse_args()
    if not 0 < args.seconds <= 60:
        raise SystemExit("--seconds must be in (0, 60]: the test is bounded in time")
    import httpx

    results = Results(args.result, "python " + shlex.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]))
    with open(SHARED_DATA / "scifact" / "queries.jsonl", encoding="utf-8") as f:
        queries = [json.loads(line)["text"] for line in f][:500]
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        index = args.index or small_index(Path(tmp), args.documents)
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "embedtune.cli.app", "serve", args.model, "--index",
                                   str(index), "--host", HOST, "--port", str(port), "-q",
                                   *(["--threads", str(args.threads)] if args.threads else [])], cwd=ROOT, env=_env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = f"http://{HOST}:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read()[-2000:] if server.stderr else ''}")
                try:
                    health = httpx.get(f"{url}/health", timeout=2).json()
                    break
                except httpx.HTTPError:
                    time.sleep(0.5)
            results.data.update({"endpoint": args.endpoint, "model": health["model"], "index": health["index"],
                                 "load_average_before": os.getloadavg()})
            asyncio.run(hold_load(url, args.endpoint, queries, 4, args.warmup, args.max_requests))
            for level in [int(x) for x in args.levels.split(",")]:
                before = httpx.get(f"{url}/health").json()["batching"]
                row = asyncio.run(hold_load(url, args.endpoint, queries, level, args.seconds, args.max_requests))
                after = httpx.get(f"{url}/health").json()["batching"]
                batches = after["batches"] - before["batches"]
                row["mean_texts_per_batch"] = round((after["texts"] - before["texts"]) / max(batches, 1), 2)
                print(json.dumps(row), flush=True)
                results.record(f"concurrency_{level}", row)
        finally:
            server.terminate()
            server.wait(timeout=30)
    rows = results.data["steps"].values()
    results.data["load_average_after"] = os.getloadavg()
    results.data["summary"] = {"total_errors": sum(r["errors"] for r in rows),
                               "best_requests_per_second": max(r["requests_per_second"] for r in rows)}
    results.save()
    print(f"wrote {args.result}")


if __name__ == "__main__":
    main()
