"""Does bf16 pay on this CPU? Encoding docs/s (embedtune's torch and torch-bf16 backends) and MNRL training
steps (fp32, and bf16 autocast as ``--precision bf16`` trains), for each model.

``--precision auto`` trains and ``torch-bf16`` encodes in bf16 wherever the CPU multiplies bf16
natively (AVX512-BF16 or AMX). AMX has bf16 tile units; AVX512-BF16 alone has only a bf16 dot-product
instruction, so whether bf16 beats fp32 there is a measurement, not a given. This probe encodes the
first ``--docs`` SciFact abstracts (256 tokens) with each model in each precision, in one process on
an otherwise idle machine, and records the CPU's flags beside the speeds.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from _harness import ROOT, SHARED_DATA, Results, cpu_flags


def bf16_int8_flags() -> list[str]:
    return sorted(f for f in cpu_flags() if f.startswith(("amx", "avx512_bf16", "avx512f", "avx512_vnni", "avx_vnni")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="all-MiniLM-L6-v2", help="Comma-separated model folders or names.")
    parser.add_argument("--docs", type=int, default=96)
    parser.add_argument("--train-steps", type=int, default=3, help="Timed MNRL steps (batch 16) per precision.")
    parser.add_argument("--data", type=Path, default=SHARED_DATA)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "precision_probe.json")
    args = parser.parse_args()

    from embedtune.inference.search import make_encoder
    from embedtune.models import display_name, load_model

    corpus = args.data / "scifact" / "corpus.jsonl"
    with corpus.open(encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line, _ in zip(f, range(args.docs))]
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    results.data["cpu_flags"] = bf16_int8_flags()
    for name in args.models.split(","):
        model = load_model(name, max_seq_length=256)
        row = {"docs": len(texts), "max_seq_length": 256}
        for backend in ("torch", "torch-bf16"):
            encoder = make_encoder(model, backend)
            encoder.encode(texts[:8], "document")  # warm-up: kernels, allocations
            start = time.perf_counter()
            encoder.encode(texts, "document")
            row[f"{backend}_docs_per_second"] = round(len(texts) / (time.perf_counter() - start), 2)
        row["bf16_over_fp32"] = round(row["torch-bf16_docs_per_second"] / row["torch_docs_per_second"], 3)
        for precision in ("fp32", "bf16"):
            row[f"train_{precision}_pairs_per_second"] = _train_speed(model, texts, precision, args.train_steps)
        row["train_bf16_over_fp32"] = round(row["train_bf16_pairs_per_second"] / row["train_fp32_pairs_per_second"], 3)
        results.record(display_name(name), row)
        print(display_name(name), row, flush=True)


def _train_speed(model, texts: list[str], precision: str, steps: int, batch: int = 16) -> float:
    """(query, document) pairs per second over ``steps`` MNRL steps, after one untimed step; the query is
    the document's first 12 words. The model's weights change; the probe does not use them again."""
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model.train()
    loss = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6)

    def step(i: int) -> None:
        docs = [texts[(i * batch + j) % len(texts)] for j in range(batch)]
        features = [model.tokenize([" ".join(d.split()[:12]) for d in docs]), model.tokenize(docs)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            value = loss(features, None)
        value.backward()
        optimizer.step()
        optimizer.zero_grad()

    step(0)
    start = time.perf_counter()
    for i in range(1, steps + 1):
        step(i)
    model.eval()
    return round(steps * batch / (time.perf_counter() - start), 2)


if __name__ == "__main__":
    main()
