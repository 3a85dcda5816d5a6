"""GPU smoke run (issue 25): MiniLM trained full, LoRA and QLoRA for a few hundred steps, beside plain
sentence-transformers (bf16 + SDPA) in the same run.

For each embedtune strategy it checks that the saved model loads in plain ``SentenceTransformer`` and
beats its base on a SciFact test slice, and records training examples/s and peak GPU memory; the
plain sentence-transformers run (MNRL, no-duplicates batches, the same batch and steps) gives the
reference speed and memory. It is sized for 8 minutes on one GPU.

``--device cpu --tiny`` runs the same code end to end in CI on a tiny random BERT and synthetic pairs
(seconds; QLoRA is recorded as refused, since it needs CUDA): the path stays alive without a GPU.

    python bench/gpu_smoke.py --result bench/results/gpu_smoke.json
    python bench/gpu_smoke.py --device cpu --tiny --result /tmp/gpu_smoke.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._harness import SHARED_DATA, Results  # noqa: E402

STRATEGIES = ("full", "lora", "qlora")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true", help="A tiny random BERT and synthetic data (CI).")
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "scifact")
    parser.add_argument("--steps", type=int, default=None, help="Training steps per run [300; tiny: 10].")
    parser.add_argument("--batch-size", type=int, default=None, help="[64; tiny: 8]")
    parser.add_argument("--eval-queries", type=int, default=100, help="SciFact test queries in the slice.")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "gpu_smoke.json")
    args = parser.parse_args()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported: every part then runs on the CPU
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_smoke: no CUDA device here; run with --device cpu --tiny to check the code path")
    steps = args.steps or (10 if args.tiny else 300)
    batch = args.batch_size or (8 if args.tiny else 64)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-gpu-smoke-"))
    results = Results(args.result, "python bench/gpu_smoke.py " + shlex.join(sys.argv[1:]))
    results.data["device"] = _device_info(torch)
    base, pairs, eval_set = _inputs(args, work)
    base_score = _score(base, eval_set)
    results.data["base"] = {"model": base, "ndcg@10": round(base_score, 4), "eval_queries": len(eval_set.queries)}
    results.record("plain_sentence_transformers", _plain(base, pairs, steps, batch, work / "plain", eval_set))
    for strategy in args.strategies.split(","):
        results.record(f"embedtune_{strategy}", _embedtune(strategy, base, pairs, steps, batch, work, eval_set,
                                                           base_score))
    failed = [k for k, v in results.data["steps"].items() if v.get("status") == "failed"
              or (not args.tiny and v.get("status") == "ok" and not v.get("beats_base"))]
    results.data["failed"] = failed
    results.save()
    print(json.dumps(results.data["steps"], indent=2))
    if failed:
        raise SystemExit(f"gpu_smoke: {', '.join(failed)} failed (see {args.result})")


def _device_info(torch: Any) -> dict[str, Any]:
    if not torch.cuda.is_available():
        return {"kind": "cpu"}
    return {"kind": "cuda", "name": torch.cuda.get_device_name(0), "bf16": torch.cuda.is_bf16_supported(),
            "memory_gb": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
            "cuda": torch.version.cuda}


def _inputs(args: argparse.Namespace, work: Path) -> tuple[str, list[dict[str, str]], Any]:
    """The base model, the training pairs and the evaluation slice."""
    from embedtune.data.types import RetrievalSet

    if args.tiny:
        from tests.tiny_models import tiny_bert

        base = str(tiny_bert(work / "tiny-base"))
        topics = ["python", "cooking", "astronomy", "football", "chemistry", "music", "law", "medicine"]
        pairs = [{"query": f"question {i} about {topics[i % 8]}", "positive": f"a text on {topics[i % 8]} number {i}"}
                 for i in range(80)]
        corpus = {f"d{i}": f"a text on {topics[i % 8]} number {i}" for i in range(80, 120)}
        queries = {f"q{i}": f"question {i} about {topics[i % 8]}" for i in range(80, 100)}
        qrels = {f"q{i}": {f"d{i}": 1} for i in range(80, 100)}
        return base, pairs, RetrievalSet(corpus, queries, qrels, source="synthetic", split="test")
    from embedtune.data.beir import load_beir
    from embedtune.models import resolve_model

    train = load_beir(args.data, "train")
    pairs = [{"query": train.queries[q], "positive": train.corpus[d]} for q in train.queries for d in train.positives(q)]
    test = load_beir(args.data, "test")
    ids = sorted(test.evaluable_query_ids())
    random.Random(0).shuffle(ids)
    return resolve_model(None), pairs, test.restrict_queries(ids[:args.eval_queries], "test-slice")


def _score(model_path: str, eval_set: Any) -> float:
    from sentence_transformers import SentenceTransformer

    from embedtune.evaluation.evaluate import evaluate_model

    model = SentenceTransformer(model_path)  # as a user loads it: plain sentence-transformers
    return evaluate_model(model, eval_set, metrics=("ndcg@10",), backend="sentence-transformers").metrics["ndcg@10"]


def _measure(train: Any) -> dict[str, Any]:
    """Wall time and peak GPU memory of ``train()`` (which returns the examples it trained on)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    examples = train()
    seconds = time.perf_counter() - start
    out = {"train_seconds": round(seconds, 2), "examples": examples,
           "examples_per_second": round(examples / seconds, 1)}
    if torch.cuda.is_available():
        out["peak_gpu_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return out


def _plain(base: str, pairs: list[dict[str, str]], steps: int, batch: int, out: Path, eval_set: Any) -> dict[str, Any]:
    """The reference: plain sentence-transformers, bf16 where the device has it, SDPA attention."""
    import torch
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from embedtune.inference.precision import cpu_has_native_bf16

    cuda = torch.cuda.is_available()
    bf16 = torch.cuda.is_bf16_supported() if cuda else cpu_has_native_bf16()
    model = SentenceTransformer(base, model_kwargs={"attn_implementation": "sdpa"})

    def train() -> int:
        arguments = SentenceTransformerTrainingArguments(
            output_dir=str(out), max_steps=steps, per_device_train_batch_size=batch, learning_rate=5e-5,
            warmup_steps=0.1, bf16=bf16, fp16=cuda and not bf16, batch_sampler="no_duplicates", save_strategy="no",
            report_to=[], disable_tqdm=True, use_cpu=not cuda, logging_steps=max(1, steps // 5))
        trainer = SentenceTransformerTrainer(model=model, args=arguments, train_dataset=Dataset.from_list(pairs),
                                             loss=MultipleNegativesRankingLoss(model))
        trainer.train()
        return trainer.state.global_step * batch

    record = {"status": "ok", "precision": "bf16" if bf16 else ("fp16" if cuda else "fp32"), **_measure(train)}
    model.save(str(out))
    record["ndcg@10"] = round(_score(str(out), eval_set), 4)
    return record


def _embedtune(strategy: str, base: str, pairs: list[dict[str, str]], steps: int, batch: int, work: Path,
               eval_set: Any, base_score: float) -> dict[str, Any]:
    from embedtune.config import TrainConfig
    from embedtune.errors import EmbedtuneError
    from embedtune.training import train_model

    data = work / "pairs.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    out = work / f"embedtune-{strategy}"
    # Same steps as the plain run: the dev carve takes a tenth of the pairs, so the epochs count the rest.
    epochs = steps * batch / max(1, int(len(pairs) * 0.9))
    config = TrainConfig(model=base, strategy=strategy, epochs=epochs, batch_size=batch, recipe="fixed",
                         eval_split="none", save_every_minutes=0)
    result: dict[str, Any] = {}

    def train() -> int:
        result["run"] = train_model(data, out, config, overwrite=True, show_progress=False)
        return result["run"].num_train_pairs * int(round(epochs * 1000)) // 1000

    try:
        record = {"status": "ok", **_measure(train)}
    except EmbedtuneError as exc:  # qlora without CUDA/bitsandbytes: a one-line refusal, recorded
        return {"status": "refused", "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a smoke run records every failure and goes on
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
    run = result["run"]
    # The timed call also scores the base and saves the model; examples/s counts the training alone,
    # as the plain run's does.
    record["wall_seconds"] = record.pop("train_seconds")
    record["train_seconds"] = run.train_seconds
    record["examples_per_second"] = round(record["examples"] / run.train_seconds, 1)
    record["precision"] = run.precision
    record["ndcg@10"] = round(_score(str(out), eval_set), 4)
    record["beats_base"] = record["ndcg@10"] > base_score
    return record


if __name__ == "__main__":
    main()
