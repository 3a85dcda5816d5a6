"""A/B: the onnx-int8 export with and without 7-bit weights (reduce_range), same 400 SciFact abstracts.

Why: reduce_range=True (commit 2bd009a) keeps int8 exact enough on AVX2-only CPUs; this checks it costs
no speed. Usage: python bench/onnx_reduce_range.py WORKDIR (prints the seconds of 3 alternating rounds).
"""
import json
import sys
import time
from pathlib import Path

import onnxruntime.quantization as q
from _harness import SHARED_DATA

from embedtune.export import export_model
from embedtune.export.onnx_model import OnnxEmbedder

work = Path(sys.argv[1]); work.mkdir(parents=True, exist_ok=True)
orig = q.quantize_dynamic
for rr in (True, False):
    def patched(*a, _rr=rr, **k):
        k["reduce_range"] = _rr
        return orig(*a, **k)
    q.quantize_dynamic = patched
    if not (work / f"rr{rr}").is_dir():
        export_model(None, "onnx-int8", work / f"rr{rr}")
docs = [json.loads(l)["text"] for l in open(SHARED_DATA / "scifact" / "corpus.jsonl")][:400]
enc = {rr: OnnxEmbedder(work / f"rr{rr}") for rr in (True, False)}
times = {True: [], False: []}
for _ in range(3):
    for rr in (True, False):
        t = time.perf_counter(); enc[rr].encode(docs, "document"); times[rr].append(round(time.perf_counter() - t, 2))
print(json.dumps({"reduce_range_true_s": times[True], "reduce_range_false_s": times[False]}))
