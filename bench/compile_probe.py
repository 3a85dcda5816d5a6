"""Would ``torch.compile`` speed up embedtune's training step on a CPU? (issue 29's training target)

embedtune's epoch and plain sentence-transformers' with every dropout at 0 run the same kernels in the
same precision, so their speeds match wherever bf16 is not faster than fp32. What is left to gain is
in the step itself: inductor fuses the elementwise work between the matmuls (GELU, LayerNorm, softmax,
the residual adds) into generated C++ loops. This times the training step both ways on the same real
batches: all-MiniLM-L6-v2, every dropout 0, MultipleNegativesRankingLoss, AdamW, SciFact train pairs
(batch 32, max length 256, padded to each batch's longest as sentence-transformers does); each
variant in its own process, compile time reported apart from the steady step.

    python bench/compile_probe.py --result bench/results/compile_probe.json
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _harness import ROOT, SHARED_DATA, Results

VARIANTS = ("eager", "compile")


def batches(count: int, size: int) -> list[tuple[list[str], list[str]]]:
    """The first ``count`` batches of (query, positive) SciFact train pairs, in file order."""
    from embedtune.data.beir import load_beir

    pairs = load_beir(SHARED_DATA / "scifact", "train").training_pairs()
    return [(pairs.queries[i:i + size], pairs.positives[i:i + size]) for i in range(0, count * size, size)]


def one(variant: str, steps: int, size: int) -> dict:
    """Run in this process: ``steps`` training steps, timed one by one."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    from embedtune.models import resolve_model

    torch.manual_seed(0)
    model = SentenceTransformer(resolve_model(None), device="cpu")
    model.max_seq_length = 256
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    transformer = model[0]
    if variant == "compile":  # ``auto_model`` is a read-only view of ``model`` in sentence-transformers 6
        transformer.model = torch.compile(transformer.model)
    model.train()
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    times, losses = [], []
    for queries, documents in batches(steps, size):
        start = time.perf_counter()
        features = [model.tokenize(queries), model.tokenize(documents)]
        loss = loss_fn(features, None)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
        losses.append(round(loss.item(), 5))
        print(f"{variant} step {len(times)}: {times[-1]:.2f}s loss {losses[-1]}", file=sys.stderr, flush=True)
    warm = times[3:]
    from torch._dynamo.utils import counters

    return {"variant": variant, "torch": torch.__version__, "threads": torch.get_num_threads(), "batch_size": size,
            # proof the compiled path ran: frames dynamo turned into graphs (0 for eager)
            "compiled_frames": int(counters["stats"]["unique_graphs"]),
            "step_seconds": [round(t, 3) for t in times], "losses": losses,
            "steady_step_seconds": round(statistics.median(warm), 3),
            "examples_per_second": round(size / statistics.median(warm), 2),
            "first_three_extra_seconds": round(sum(times[:3]) - 3 * statistics.median(warm), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "compile_probe.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.steps, args.batch_size)))
        return
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    for variant in args.variants.split(","):
        out = subprocess.run([sys.executable, __file__, "--one", variant, "--steps", str(args.steps),
                              "--batch-size", str(args.batch_size)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             check=True)
        results.record(variant, json.loads(out.stdout))
    steps = results.data["steps"]
    if {"eager", "compile"} <= steps.keys():
        results.data["summary"] = {
            "compile_over_eager_steady": round(steps["eager"]["steady_step_seconds"]
                                               / steps["compile"]["steady_step_seconds"], 3),
            "compile_extra_seconds_first_steps": steps["compile"]["first_three_extra_seconds"]}
        results.save()
    print(json.dumps(results.data.get("summary", {}), indent=2))


if __name__ == "__main__":
    main()
