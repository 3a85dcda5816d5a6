"""Speed benchmark: embedtune vs plain sentence-transformers on the same CPU, same data, same settings.

(a) encoding the SciFact corpus (5,183 abstracts, max length 256): plain ``model.encode`` vs
    embedtune's backends, each followed by the test queries and nDCG@10 from the same scorer;
(b) one epoch of MultipleNegativesRankingLoss on SciFact train (batch 32, length 256), full and
    LoRA: a plain SentenceTransformerTrainer script vs ``embedtune train`` (whose time includes
    its dev evaluation and checkpoint), then every trained model scored the same exact way;
(c) a full evaluation: the plain script's eval vs ``embedtune eval``, cold and with its cache warm.
Every step runs in its own process (wall time and peak RSS are its own). Achieved FLOP/s is set
against a matmul peak measured here, in the same run.

    python bench/speed.py              # about 50 minutes on 2 CPU cores
    python bench/speed.py --quick      # 300 documents / 96 pairs: checks the script, not the machine
    python bench/speed.py --parts train --result bench/results/speed_train.json   # (b) alone

Training runs embedtune twice per strategy: with ``--dropout 0`` (attention then takes PyTorch's
fused CPU kernel) and with ``--dropout 0.1`` (the model's own, as the plain script trains); each
model's test nDCG@10 sits beside its speed, and its dev nDCG@10 (what a default may be chosen on).
``--train-variants dropout0_lora_dropout0`` adds LoRA without dropout on its branch too, and
``dropout0.1_attn0`` keeps the hidden-state dropout 0.1 but drops none of the attention
probabilities (``--attention-dropout 0``), so attention still takes the fused kernel.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, SHARED_DATA, Results, run_step  # noqa: E402

PY = sys.executable
MAX_LEN = 256
ENCODE_BACKENDS = ("torch", "onnx", "torch-bf16", "onnx-int8")  # the default --encode-backends
# --encode-backends lean-openvino-int8 / lean-openvino: an OpenVINO export folder encoded without PyTorch
LEAN_PREFIX = "lean-"
# (rows, in, out) of MiniLM's matmuls: a 1,024-token batch (the CPU encoders' budget) through the attention
# projections and the feed-forward layers, and the 8,192-token batch earlier runs measured
PEAK_SHAPES = ((1024, 384, 384), (1024, 384, 1536), (1024, 1536, 384), (8192, 384, 1536))
PARTS = ("encode", "train", "eval")
# embedtune training variants: name suffix -> extra `embedtune train` flags. Plain
# sentence-transformers always trains with the model's own dropout (0.1 for MiniLM).
TRAIN_VARIANTS: dict[str, list[str]] = {"_dropout0": ["--dropout", "0"], "_dropout0.1": ["--dropout", "0.1"],
                                         "_dropout0_lora_dropout0": ["--dropout", "0", "--lora-dropout", "0"],
                                         # the model's hidden-state dropout, as plain trains, minus the attention mask
                                         "_dropout0.1_attn0": ["--dropout", "0.1", "--attention-dropout", "0"]}
# Plain sentence-transformers variants: the settings a user can switch on in its training arguments.
# "" is today's plain script (fp32, the model's dropout); the strongest baseline is the fastest of them.
# "_dropout0" (fp32, every dropout at 0) is the strongest on a CPU whose bf16 matrix products are slow.
PLAIN_VARIANTS: dict[str, list[str]] = {"": [], "_dropout0": ["--dropout", "0"], "_bf16": ["--bf16"],
                                        "_bf16_dropout0": ["--bf16", "--dropout", "0"]}
LORA_ONLY = {"_dropout0_lora_dropout0"}  # variants that change LoRA settings: not run for full fine-tuning
STRATEGIES = ("full", "lora")


def matmul_peak() -> dict[str, float]:
    """GOP/s per precision: the best over ``PEAK_SHAPES`` (the shapes of MiniLM's matmuls).

    int8 is the faster of oneDNN's (``torch._int_mm``) and OpenVINO's int8 FullyConnected (the kernel
    ``--backend openvino-int8`` runs), each on u8/i8 (VNNI, or AMX where present): the ceiling any int8
    encoder's matrix multiplies reached on this CPU.
    """
    import torch

    peaks: dict[str, float] = {}

    def keep(name: str, m: int, k: int, n: int, seconds: float) -> None:
        peaks[name] = max(peaks.get(name, 0.0), round(2 * m * k * n / seconds / 1e9, 1))

    for m, k, n in PEAK_SHAPES:
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
            keep(name, m, k, n, _best_seconds(lambda a=a, b=b: a @ b))
        a8, b8 = torch.randint(-128, 127, (m, k), dtype=torch.int8), torch.randint(-128, 127, (k, n), dtype=torch.int8)
        keep("int8_torch", m, k, n, _best_seconds(lambda a8=a8, b8=b8: torch._int_mm(a8, b8)))
        try:
            keep("int8_openvino", m, k, n, _openvino_int8_seconds(m, k, n))
        except ImportError:  # the openvino extra is not installed: torch's figure stands alone
            pass
    peaks["int8"] = max(v for key, v in peaks.items() if key.startswith("int8_"))
    return peaks


def _best_seconds(run, repeats: int = 10) -> float:
    """The fastest of ``repeats`` timed calls, after three warm-up calls (kernels, allocations)."""
    for _ in range(3):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def _openvino_int8_seconds(m: int, k: int, n: int) -> float:
    """Seconds of OpenVINO's int8 MatMul: FakeQuantize on both inputs, the pattern NNCF leaves, which
    OpenVINO lowers to a u8 x i8 FullyConnected (the timing includes quantizing the input)."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)

    def fake_quantize(node, low: float, high: float, levels: int):
        lo, hi = ops.constant(np.float32(low)), ops.constant(np.float32(high))
        return ops.fake_quantize(node, lo, hi, lo, hi, levels)

    x = ops.parameter([m, k], ov.Type.f32, name="x")
    w = ops.constant(rng.standard_normal((n, k)).astype(np.float32))
    out = ops.matmul(fake_quantize(x, 0.0, 4.0, 256), fake_quantize(w, -4.0, 4.0, 255), False, True)
    compiled = ov.Core().compile_model(ov.Model([out], [x]), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    data = np.abs(rng.standard_normal((m, k))).astype(np.float32)
    return _best_seconds(lambda: request.infer({0: data}))


def model_flops_per_text(lengths: list[int], layers: int = 6, hidden: int = 384, ffn: int = 1536) -> list[float]:
    """Forward FLOPs of a BERT encoder on texts of these token counts: 2·params·tokens + attention."""
    dense = 2 * layers * (4 * hidden * hidden + 2 * hidden * ffn)
    return [dense * n + 4 * layers * hidden * n * n for n in lengths]


def token_lengths(texts: list[str]) -> list[int]:
    from embedtune.models import load_model

    model = load_model(None, max_seq_length=MAX_LEN)
    lengths = []
    for start in range(0, len(texts), 512):
        mask = model.preprocess(texts[start:start + 512])["attention_mask"]
        lengths += mask.sum(1).tolist()
    return lengths


def slice_scifact(src: Path, dst: Path, documents: int, train_queries: int) -> Path:
    """A small SciFact for --quick: the judged documents of a few queries plus others, up to ``documents``."""
    sys.path.insert(0, str(ROOT))
    from tests.slices import write_beir_slice

    return write_beir_slice(src, dst, train_qrels=train_queries, test_qrels=60, distractors=documents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "scifact")
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="Tiny slice: checks the script runs end to end.")
    parser.add_argument("--parts", default=",".join(PARTS), help="Comma-separated subset of: " + ", ".join(PARTS))
    parser.add_argument("--strategies", default=",".join(STRATEGIES),
                        help="Comma-separated training strategies the train part runs (full, lora).")
    parser.add_argument("--plain-variants", default="fp32",
                        help="Plain sentence-transformers training variants (comma-separated): fp32 (today's "
                             "script), dropout0 (fp32, every dropout at 0), bf16 (bf16=True), bf16_dropout0 "
                             "(bf16 and every dropout at 0).")
    parser.add_argument("--train-variants", default="dropout0,dropout0.1",
                        help="Comma-separated embedtune training variants: " +
                             ", ".join(v.lstrip("_") for v in TRAIN_VARIANTS) + " (LoRA-only ones skip full).")
    parser.add_argument("--encode-backends", default=",".join(ENCODE_BACKENDS),
                        help="Comma-separated embedtune backends the encode part times beside plain (and "
                             "lean-openvino-int8 / lean-openvino: an export folder encoded without PyTorch).")
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    data = slice_scifact(args.data, work / "slice", 240, 110) if args.quick else args.data
    result_path = args.result or ROOT / "bench" / "results" / ("speed_quick.json" if args.quick else "speed.json")
    results = Results(result_path, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    results.data["matmul_peak_gflops"] = peak = matmul_peak()
    print(f"matmul peak: {peak}", flush=True)

    from embedtune.data.beir import load_beir

    test = load_beir(data, "test")
    doc_lengths = token_lengths(list(test.corpus.values()))
    doc_flops = sum(model_flops_per_text(doc_lengths))
    results.data["corpus"] = {"documents": len(doc_lengths), "tokens": sum(doc_lengths)}

    if "encode" in parts:
        encode_corpus(results, work, data, doc_lengths, doc_flops, peak,
                      [b for b in args.encode_backends.split(",") if b])
    if "train" in parts:
        train_one_epoch(results, work, data, [s for s in args.strategies.split(",") if s],
                        ["_" + v for v in args.train_variants.split(",") if v],
                        ["" if v == "fp32" else "_" + v for v in args.plain_variants.split(",") if v])
    if "eval" in parts:
        full_evaluation(results, work, data)
    results.data["summary"] = summarize(results.data["steps"], work)
    if "encode_plain" in results.data["steps"]:
        results.data["summary"]["encode_bound"] = encode_bound(results.data["steps"]["encode_plain"], peak,
                                                               len(doc_lengths), doc_flops)
    results.save()
    print(json.dumps(results.data["summary"], indent=2))


def encode_corpus(results: Results, work: Path, data: Path, doc_lengths: list[int], doc_flops: float,
                  peak: dict[str, float], backends: list[str]) -> None:
    """(a) The test corpus through plain ``model.encode`` and each embedtune backend.

    First, the floor: a process that only imports sentence-transformers and loads the model, whose
    peak RSS every encoder here (plain's and each of embedtune's, which load the model to export it)
    carries before it encodes anything.
    """
    floor = run_step("encode_floor", [PY, "-c", "from embedtune.models import load_model; load_model(None)"])
    floor.pop("stdout")
    results.record("encode_floor", floor)
    export = work / "openvino-int8-export"
    if any(b.startswith(LEAN_PREFIX) for b in backends) and not (export / "modules.json").is_file():
        # The deployed form: an `embedtune export --format openvino-int8` folder, written once beforehand
        # (not timed with the encoding, as a service loads what was exported for it).
        from embedtune.models import resolve_model

        step = run_step("encode_lean_export", [PY, "-m", "embedtune.cli.app", "export", resolve_model(None),
                                               "--format", "openvino-int8",
                                               "--out", str(export), "--calibration-data", str(data), "--quiet"],
                        {"EMBEDTUNE_CACHE_DIR": str(work / "encode-cache")})
        step.pop("stdout")
        results.record("encode_lean_export", step)
    for impl, backend in [("plain", "plain"), *(("embedtune", b) for b in backends)]:
        key = f"encode_{impl}" + ("" if impl == "plain" else f"_{backend}")
        out = work / f"{key}.json"
        if backend.startswith(LEAN_PREFIX):  # the export folder without PyTorch (embedtune.inference.lean)
            impl, backend = "lean", backend.removeprefix(LEAN_PREFIX)
        argv = [PY, "bench/_encode_worker.py", "--impl", impl, "--backend", backend, "--data", str(data),
                "--result", str(out), "--embeddings", str(work / f"{key}.npy"), "--export-dir", str(export)]
        # ONNX exports land in this cache, not the user's (the worker never caches embeddings).
        step = run_step(key, argv, {"EMBEDTUNE_CACHE_DIR": str(work / "encode-cache")})
        step.pop("stdout")
        step.update(json.loads(out.read_text()))
        seconds = step["corpus_seconds"]
        precision = "bf16" if "bf16" in backend else "int8" if "int8" in backend else "fp32"
        step.update(docs_per_second=round(len(doc_lengths) / seconds, 2),
                    tokens_per_second=round(sum(doc_lengths) / seconds, 1),
                    model_gflops_per_second=round(doc_flops / seconds / 1e9, 1))
        if precision in peak:
            step["fraction_of_matmul_peak"] = round(doc_flops / seconds / 1e9 / peak[precision], 3)
        results.record(key, step)



def train_one_epoch(results: Results, work: Path, data: Path, strategies: list[str], variants: list[str],
                    plain_variants: list[str]) -> None:
    """(b) One epoch, full and LoRA: the plain trainer script against each embedtune variant."""
    from embedtune.config import TrainConfig
    from embedtune.models import resolve_model
    from embedtune.training.data_prep import prepare_data
    from embedtune.training.recipe import paired_interval

    config = TrainConfig()
    prepared = prepare_data(data, split="train", eval_split=None, dev_fraction=config.dev_fraction,
                            max_dev_queries=config.max_dev_queries, seed=config.seed)
    pairs_file = work / "train_pairs.jsonl"
    pairs_file.write_text("".join(json.dumps({"query": q, "positive": p}) + "\n"
                                  for q, p in zip(prepared.train.queries, prepared.train.positives)))
    pair_lengths = token_lengths(list(prepared.train.queries)), token_lengths(list(prepared.train.positives))
    pair_tokens = sum(pair_lengths[0]) + sum(pair_lengths[1])
    forward = sum(model_flops_per_text(pair_lengths[0])) + sum(model_flops_per_text(pair_lengths[1]))
    results.data["training_data"] = {"pairs": len(prepared.train), "tokens_per_epoch": pair_tokens}
    base = resolve_model(None)
    env = {"EMBEDTUNE_CACHE_DIR": str(work / "cache")}
    unknown = (sorted(set(strategies) - set(STRATEGIES)) + sorted(set(variants) - set(TRAIN_VARIANTS))
               + sorted(set(plain_variants) - set(PLAIN_VARIANTS)))
    if unknown:
        raise SystemExit(f"speed.py: unknown strategy or training variant: {', '.join(unknown)}")
    for strategy in strategies:
        lr = TrainConfig(strategy=strategy).resolved_learning_rate
        runs = []
        for suffix in plain_variants:
            key, plain_dir = f"train_plain_{strategy}{suffix}", work / f"plain-{strategy}{suffix}"
            out = work / f"{key}.json"
            argv = [PY, "bench/plain_st.py", "train", "--model", base, "--pairs", str(pairs_file), "--out",
                    str(plain_dir), "--epochs", "1", "--lr", str(lr), "--batch-size", "32", "--warmup", "0.1",
                    "--max-seq-length", str(MAX_LEN), "--result", str(out), *PLAIN_VARIANTS[suffix]]
            plain = run_step(key, argv + (["--lora"] if strategy == "lora" else []))
            plain.pop("stdout")
            plain.update(json.loads(out.read_text()))
            runs.append((key, plain, plain_dir))
        for suffix in variants:
            if strategy != "lora" and suffix in LORA_ONLY:
                continue
            flags = TRAIN_VARIANTS[suffix]
            key, ours_dir = f"train_embedtune_{strategy}{suffix}", work / f"embedtune-{strategy}{suffix}"
            ours = run_step(key, [PY, "-m", "embedtune.cli.app", "train", "--data", str(data), "--out", str(ours_dir),
                                  # --recipe fixed: the plain script's recipe (in-batch MNRL), not the default's search
                                  "--strategy", strategy, "--recipe", "fixed", "--epochs", "1", "--eval-split", "none",
                                  "--json", "--overwrite",
                                  "--quiet", *flags], env)
            trained = json.loads(ours.pop("stdout"))
            ours.update(train_seconds=trained["train_seconds"], pairs=trained["num_train_pairs"],
                        precision=trained["precision"], dropout=trained["config"].get("dropout"),
                        dev_history=trained["dev_history"])
            runs.append((key, ours, ours_dir))
        # Full fine-tuning costs ~3× the forward pass; LoRA skips the frozen weights' gradients (~2×).
        factor = 3 if strategy == "full" else 2
        for _, step, _ in runs:
            step["examples_per_second"] = round(step["pairs"] / step["train_seconds"], 3)
            add_step_only_speed(step)
            step["tokens_per_second"] = round(pair_tokens / step["train_seconds"], 1)
            step["model_gflops_per_second"] = round(factor * forward / step["train_seconds"] / 1e9, 1)
        per_query: dict[str, dict[str, float]] = {}
        for key, step, model_dir in runs:
            scores = work / f"{key}_test.json"
            scored = run_step(f"{key}_test", [PY, "-m", "embedtune.cli.app", "eval", "--model", str(model_dir),
                                              "--data", str(data), "--json", str(scores), "--no-cache", "--quiet"])
            scored_json = json.loads(scores.read_text())
            step["test_ndcg@10"] = scored_json["metrics"]["ndcg@10"]
            step["test_scoring_seconds"] = scored["wall_seconds"]
            per_query[key] = {q: v["ndcg@10"] for q, v in scored_json["per_query"].items()}
        for key, step, _ in runs:  # is a test difference larger than the spread over test queries?
            step["test_ndcg@10_paired_90pct_interval"] = {
                other: [round(x, 4) for x in paired_interval(per_query[key], per_query[other], seed=0)]
                for other, _, _ in runs if other != key and other.startswith("train_plain")}
            results.record(key, step)



def full_evaluation(results: Results, work: Path, data: Path) -> None:
    """(c) A full evaluation of the base model, end to end: plain script, then embedtune cold and warm."""
    from embedtune.models import resolve_model

    base = resolve_model(None)
    out = work / "eval_plain.json"
    plain_eval = run_step("eval_plain", [PY, "bench/plain_st.py", "eval", "--model", base, "--data", str(data),
                                         "--result", str(out)])
    plain_eval.pop("stdout")
    plain_eval["metrics"] = json.loads(out.read_text())["metrics"]
    results.record("eval_plain", plain_eval)
    eval_env = {"EMBEDTUNE_CACHE_DIR": str(work / "eval-cache")}
    for key in ("eval_embedtune_cold", "eval_embedtune_warm"):
        scores = work / f"{key}.json"
        step = run_step(key, [PY, "-m", "embedtune.cli.app", "eval", "--data", str(data), "--json", str(scores),
                              "--quiet"], eval_env)
        step.pop("stdout")
        step["metrics"] = {k: v for k, v in json.loads(scores.read_text())["metrics"].items()
                           if k in ("ndcg@10", "recall@100")}
        results.record(key, step)


def summarize(steps: dict, work: Path) -> dict:
    """Ratios against plain sentence-transformers, and each fast path's quality change."""
    summary: dict[str, dict] = {}
    if "encode_plain" in steps:
        summary["encode_corpus"] = _summarize_encoding(steps, work)
    if "encode_plain" in steps and "encode_floor" in steps:  # loading the model alone, against plain's whole run
        floor = steps["encode_floor"]["peak_rss_gb"]
        summary["encode_floor"] = {"peak_rss_gb": floor,
                                   "peak_rss_ratio": round(floor / steps["encode_plain"]["peak_rss_gb"], 3)}
    if any(f"train_plain_{strategy}" in steps for strategy in STRATEGIES):
        summary["train_one_epoch"] = _summarize_training(steps)
    if "eval_plain" in steps:
        summary["full_evaluation"] = _summarize_evaluation(steps)
    return summary


def encode_bound(plain: dict, peak: dict[str, float], documents: int, doc_flops: float,
                 target: float = 5.0) -> dict:
    """The fastest any encoder's matrix multiplies could encode this corpus, per precision, against plain.

    A ceiling, not an estimate: every other operation (softmax, layer norm, GELU, (de)quantization,
    tokenization) is taken to cost nothing. Where ``target`` times plain's docs/s needs more operations
    per second than the precision's peak, no encoder in that precision reaches it on this CPU.
    """
    plain_docs = documents / plain["corpus_seconds"]
    gop_per_doc = doc_flops / documents / 1e9
    bound = {"plain_docs_per_second": round(plain_docs, 2), "gop_per_document": round(gop_per_doc, 3),
             "target_ratio": target, "gops_needed_for_target": round(target * plain_docs * gop_per_doc, 1)}
    for precision in ("fp32", "bf16", "int8"):
        if precision in peak:
            ceiling = peak[precision] / gop_per_doc
            bound[precision] = {"peak_gops": peak[precision], "docs_per_second_ceiling": round(ceiling, 1),
                                "ceiling_over_plain": round(ceiling / plain_docs, 2),
                                "target_reachable": ceiling >= target * plain_docs}
    return bound


def _summarize_encoding(steps: dict, work: Path) -> dict:
    import numpy as np

    plain_encode = steps["encode_plain"]
    reference = np.load(work / "encode_plain.npy")
    encode = {}
    prefix = "encode_embedtune_"
    for backend, step in ((key.removeprefix(prefix), step) for key, step in steps.items() if key.startswith(prefix)):
        vectors = np.load(work / f"encode_embedtune_{backend}.npy")
        encode[backend] = {
            "speedup": round(plain_encode["corpus_seconds"] / step["corpus_seconds"], 3),
            "ndcg@10_change": round(step["metrics"]["ndcg@10"] - plain_encode["metrics"]["ndcg@10"], 5),
            "min_cosine_to_plain": round(float((vectors * reference).sum(1).min()), 5),
            "peak_rss_ratio": round(step["peak_rss_gb"] / plain_encode["peak_rss_gb"], 3),
        }
    return encode


def add_step_only_speed(step: dict) -> None:
    """For an embedtune row: its examples/s without the dev evaluations inside its ``train_seconds``
    (the plain script evaluates nothing; on a CPU at 10 documents/s the dev corpus costs ~100 s)."""
    evals = sum(h.get("eval_runtime", 0.0) for h in step.get("dev_history") or [])
    if evals:
        step["dev_eval_seconds"] = round(evals, 1)
        step["examples_per_second_without_dev_eval"] = round(step["pairs"] / (step["train_seconds"] - evals), 3)


def _summarize_training(steps: dict) -> dict:
    """Each embedtune variant against today's plain script (fp32), and against every plain variant run
    (``against_plain``), the fastest of which is the strongest baseline."""
    training = {}
    for strategy in STRATEGIES:
        plains = {name or "_fp32": steps[f"train_plain_{strategy}{name}"] for name in PLAIN_VARIANTS
                  if f"train_plain_{strategy}{name}" in steps}
        if not plains:  # not in --strategies
            continue
        strongest = max(plains, key=lambda name: plains[name]["examples_per_second"])
        for suffix in TRAIN_VARIANTS:
            if (ours := steps.get(f"train_embedtune_{strategy}{suffix}")) is None:
                continue
            plain = plains.get("_fp32", plains[strongest])
            training[strategy + suffix] = {
                "throughput_ratio": round(ours["examples_per_second"] / plain["examples_per_second"], 3),
                "examples_per_second": {"plain_st": plain["examples_per_second"],
                                        "embedtune": ours["examples_per_second"]},
                "test_ndcg@10": {"plain_st": plain["test_ndcg@10"], "embedtune": ours["test_ndcg@10"]},
                "peak_rss_gb": {"plain_st": plain["peak_rss_gb"], "embedtune": ours["peak_rss_gb"]},
                "precision": ours["precision"],
                "dropout": ours.get("dropout"),
                "flags": TRAIN_VARIANTS[suffix],
                "dev_ndcg@10": ours["dev_history"][-1]["eval_dev_ndcg@10"] if ours.get("dev_history") else None,
                "examples_per_second_without_dev_eval": ours.get("examples_per_second_without_dev_eval"),
                "note": "embedtune's seconds include its dev evaluation and checkpoint save",
                "strongest_plain": strongest.lstrip("_"),
                "against_plain": {name.lstrip("_"): {
                    "plain_flags": PLAIN_VARIANTS["" if name == "_fp32" else name],
                    "throughput_ratio": round(ours["examples_per_second"] / step["examples_per_second"], 3),
                    **({"throughput_ratio_without_dev_eval": round(
                        ours["examples_per_second_without_dev_eval"] / step["examples_per_second"], 3)}
                       if ours.get("examples_per_second_without_dev_eval") else {}),
                    "test_ndcg@10_difference": round(ours["test_ndcg@10"] - step["test_ndcg@10"], 4),
                    "peak_rss_ratio": round(ours["peak_rss_gb"] / step["peak_rss_gb"], 3)}
                    for name, step in plains.items()},
            }
    return training


def _summarize_evaluation(steps: dict) -> dict:
    evaluation = {
        "wall_seconds": {"plain_st": steps["eval_plain"]["wall_seconds"],
                         "embedtune_cold": steps["eval_embedtune_cold"]["wall_seconds"],
                         "embedtune_warm_cache": steps["eval_embedtune_warm"]["wall_seconds"]},
        "ndcg@10": {"plain_st": steps["eval_plain"]["metrics"]["ndcg@10"],
                    "embedtune": steps["eval_embedtune_cold"]["metrics"]["ndcg@10"]},
    }
    for key in ("embedtune_cold", "embedtune_warm_cache"):
        evaluation[f"speedup_{key}"] = round(evaluation["wall_seconds"]["plain_st"]
                                             / evaluation["wall_seconds"][key], 3)
    return evaluation


if __name__ == "__main__":
    main()
