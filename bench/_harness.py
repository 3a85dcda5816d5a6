"""Shared benchmark plumbing: run a step in its own process, time it, track its peak memory, record it."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


# The CPU features that decide which bf16 / int8 kernels can run (what a speed figure depends on).
MATRIX_FLAGS = frozenset({"avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16",
                          "amx_int8", "avx512_fp16"})


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags (/proc/cpuinfo; empty where there is none)."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    return set(next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), []))


def machine_info() -> dict[str, Any]:
    import sentence_transformers
    import torch
    import transformers

    import embedtune

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
               platform.processor())
    return {"cpu": cpu, "cpu_matrix_flags": sorted(cpu_flags() & MATRIX_FLAGS), "cores": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__, "transformers": transformers.__version__,
            "embedtune": embedtune.__version__, "torch_threads": torch.get_num_threads()}


def git_commit() -> str:
    """The checked-out commit, with "+dirty" when the working tree differs from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "HEAD") + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def tree_memory(parent: psutil.Process) -> int:
    """Bytes a process tree holds: the process's RSS plus each descendant's unique memory (USS).

    Not the sum of RSS: a forked helper (OpenVINO's model conversion forks a few) shares its parent's
    pages, and summing RSS counted them once per fork (3.05 GB for an encoder whose kernel-reported
    peak was 1.24 GB). A descendant that is a process of its own (a torchrun worker) is counted
    without the shared libraries it maps, a few hundred MB at most.
    """
    total = parent.memory_info().rss
    for child in parent.children(recursive=True):
        try:
            total += child.memory_full_info().uss
        except psutil.Error:  # gone between listing and reading: it holds nothing now
            pass
    return total


def run_step(name: str, argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``argv``; return wall seconds, peak memory (``tree_memory``, sampled every 0.2 s) and exit code."""
    print(f"[{datetime.now():%H:%M:%S}] {name}: {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                peak = max(peak, tree_memory(parent))
            except psutil.Error:
                pass
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, stderr = proc.communicate()
    done.set()
    thread.join()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    print(f"    {seconds:.0f}s, peak RSS {peak / 2**30:.2f} GiB", flush=True)
    return {"argv": argv, "wall_seconds": round(seconds, 1), "peak_rss_gb": round(peak / 2**30, 3),
            "peak_memory_method": "rss+descendants_uss", "stdout": stdout}


class Results:
    """A JSON results file rewritten after every step, so a cut-off run still leaves its figures."""

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.data: dict[str, Any] = {"command": command, "started": datetime.now(timezone.utc).isoformat(),
                                     "machine": machine_info(), "commit": git_commit(), "steps": {}}

    def continue_earlier(self) -> None:
        """Keep the steps of an earlier run in the same file (``--continue``), and every run's command.

        Each kept row keeps the machine, versions and commit it ran on: a row recorded before rows
        carried their own gets the earlier file's, so the new run's machine never replaces them."""
        if not self.path.is_file():
            return
        earlier = json.loads(self.path.read_text(encoding="utf-8"))
        for step in earlier["steps"].values():
            if isinstance(step, dict) and "run" not in step:
                step["run"] = {"machine": earlier.get("machine"), "commit": earlier.get("commit"),
                               "recorded": earlier.get("started"), "note": "the file's machine when this row was kept"}
        self.data["steps"] = earlier["steps"]
        self.data["commands"] = [*earlier.get("commands", [earlier["command"]]), self.data["command"]]
        self.data["command"] = " && ".join(self.data["commands"])

    def record(self, key: str, value: Any) -> None:
        """Save the row ``key``; a new row records the machine, versions and commit it ran on."""
        if isinstance(value, dict):
            value.setdefault("run", {"machine": self.data["machine"], "commit": self.data["commit"],
                                     "recorded": datetime.now(timezone.utc).isoformat()})
        self.data["steps"][key] = value
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
