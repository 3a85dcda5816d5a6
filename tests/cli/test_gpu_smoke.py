"""bench/gpu_smoke.py stays runnable without a GPU: ``--device cpu --tiny`` end to end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_gpu_smoke_run_works_end_to_end_on_cpu(tmp_path: Path) -> None:
    result = tmp_path / "smoke.json"
    proc = subprocess.run([sys.executable, "bench/gpu_smoke.py", "--device", "cpu", "--tiny", "--result", str(result),
                           "--workdir", str(tmp_path / "work")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = json.loads(result.read_text(encoding="utf-8"))["steps"]
    assert {k: v["status"] for k, v in steps.items()} == {
        "plain_sentence_transformers": "ok", "embedtune_full": "ok", "embedtune_lora": "ok",
        "embedtune_qlora": "refused"}
    for name in ("plain_sentence_transformers", "embedtune_full", "embedtune_lora"):
        assert steps[name]["examples_per_second"] > 0 and 0 <= steps[name]["ndcg@10"] <= 1
