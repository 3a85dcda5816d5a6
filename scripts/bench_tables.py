"""Render the README's measured-results tables from bench/results/*.json (``--check`` fails on drift).

The README never carries a number by hand: every figure in these tables is read from a results
file that records the command that produced it.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "bench" / "results"


def supervised(data: dict) -> str:
    s = data["summary"]
    sci, dbp, secs, rss = s["scifact_test_ndcg@10"], s["dbpedia_test_ndcg@10"], s["training_seconds"], s["peak_rss_gb"]
    steps, settings = data["steps"], data["settings"]
    ours = steps["embedtune_train"]
    precision = ours.get("precision") or ours["config"].get("precision", "fp32")  # older runs were all fp32
    # Runs from before the dropout setting trained with the model's own (0.1 for MiniLM).
    dropout = ours["config"].get("dropout", 0.1)
    label = "defaults" if "dropout" in ours["config"] else f"defaults of that version: dropout {dropout:g}"
    if "recipe" not in ours["config"]:  # before --recipe auto became the default: in-batch negatives only
        label = label.replace("defaults", "defaults before the recipe search", 1) + "; today's --recipe fixed"
    return "\n".join([
        f"SciFact, {settings['train_pairs']} training pairs, {settings['epochs']:g} epochs, batch "
        f"{settings['batch_size']}, max length {settings['max_seq_length']}; `{data['command']}`:",
        "",
        f"| | plain sentence-transformers | `embedtune train` ({label}) |",
        "|---|---|---|",
        f"| SciFact test nDCG@10, base → tuned | {sci['base_plain_st']:.4f} → {sci['tuned_plain_st']:.4f} "
        f"| {sci['base_embedtune']:.4f} → {sci['tuned_embedtune']:.4f} |",
        f"| dbpedia-5k test nDCG@10 (general domain; base {dbp['base']:.4f}) | {dbp['tuned_plain_st']:.4f} "
        f"| {dbp['tuned_embedtune']:.4f} |",
        f"| training time | {secs['plain_st']:.0f} s (fp32) | {secs['embedtune']:.0f} s (precision {precision}, incl. dev "
        f"evaluations) |",
        f"| peak memory while training | {rss['plain_st_train']:.2f} GB | {rss['embedtune_train']:.2f} GB |",
    ])


def speed(data: dict) -> str:
    s = data["summary"]
    ev = s["full_evaluation"]
    steps = data["steps"]
    plain = steps["encode_plain"]
    peak = data["matmul_peak_gflops"]
    lines = [
        f"`{data['command']}`, {data['corpus']['documents']:,} SciFact abstracts ({data['corpus']['tokens']:,} "
        f"tokens, max length 256). Measured matmul peak here: {peak['fp32']:.0f} GFLOP/s fp32, "
        f"{peak['bf16']:.0f} GFLOP/s bf16.",
        "",
        "| encoding the corpus | seconds | docs/s | vs plain | nDCG@10 change | min cosine to plain | peak RSS |",
        "|---|---|---|---|---|---|---|",
        f"| plain `model.encode` (fp32) | {plain['corpus_seconds']:.0f} | {plain['docs_per_second']:.1f} | 1.00× "
        f"({plain['fraction_of_matmul_peak']:.0%} of fp32 peak) | — | — | {plain['peak_rss_gb']:.2f} GB |",
    ]
    for backend, step, row in _encode_rows(data):
        lines.append(f"| embedtune `{backend}` | {step['corpus_seconds']:.0f} | {step['docs_per_second']:.1f} "
                     f"| {row['speedup']:.2f}× | {row['ndcg@10_change']:+.4f} | {row['min_cosine_to_plain']:.4f} "
                     f"| {step['peak_rss_gb']:.2f} GB ({row['peak_rss_ratio']:.2f}×) |")
    # a run without the train part has no rows; a newer training-only run supersedes them
    if "train_one_epoch" in s and not _newer_run_exists(data, RESULTS / "speed_train.json"):
        lines += ["", *training_rows(s["train_one_epoch"])]
    wall = ev["wall_seconds"]
    lines += ["", f"Full evaluation of the base model, end to end: plain script {wall['plain_st']:.0f} s, "
                  f"`embedtune eval` {wall['embedtune_cold']:.0f} s cold and {wall['embedtune_warm_cache']:.0f} s "
                  f"with its embedding cache warm (nDCG@10 {ev['ndcg@10']['plain_st']:.4f} / "
                  f"{ev['ndcg@10']['embedtune']:.4f})."]
    return "\n".join(lines)


def _newer_run_exists(data: dict, other: Path) -> bool:
    """Whether ``other`` holds a results file started after ``data`` (ISO times compare as text)."""
    return other.is_file() and json.loads(other.read_text(encoding="utf-8"))["started"] > data["started"]


def training_rows(train: dict) -> list[str]:
    lines = ["| one training epoch (batch 32, length 256) | plain ex/s | embedtune ex/s | ratio "
             "| test nDCG@10 plain / embedtune | peak RSS plain / embedtune |",
             "|---|---|---|---|---|---|"]
    for variant, row in train.items():
        eps, nd, rss = row["examples_per_second"], row["test_ndcg@10"], row["peak_rss_gb"]
        strategy = variant.partition("_")[0]
        dropout = "" if row.get("dropout") is None else f", dropout {row['dropout']:g}"
        flags = row.get("flags") or []
        if "--attention-dropout" in flags:
            dropout += f" hidden, {float(flags[flags.index('--attention-dropout') + 1]):g} attention"
        if "--lora-dropout" in flags:
            dropout += f", LoRA dropout {float(flags[flags.index('--lora-dropout') + 1]):g}"
        label = f"{strategy} ({row['precision']}{dropout})"
        lines.append(f"| {label} | {eps['plain_st']:.2f} | {eps['embedtune']:.2f} "
                     f"| {row['throughput_ratio']:.2f}× | {nd['plain_st']:.4f} / {nd['embedtune']:.4f} "
                     f"| {rss['plain_st']:.2f} / {rss['embedtune']:.2f} GB |")
    return lines


def speed_train(data: dict) -> str:
    return "\n".join([f"`{data['command']}` (plain sentence-transformers trains with the model's dropout, 0.1):",
                      "", *training_rows(data["summary"]["train_one_epoch"])])


def mining(data: dict) -> str:
    lines = [f"`{data['command']}`; each variant trains with the same settings on the same SciFact train "
             "pairs, only the negatives differ. SciFact test is encoded exactly (fp32); the dbpedia-5k guard "
             f"with `--backend {data['steps']['base_model']['guard_backend']}`, the base model too:", "",
             "| negatives | training rows | SciFact test nDCG@10 | vs in-batch only | dbpedia-5k nDCG@10 "
             f"(base {data['steps']['base_model']['dbpedia_test_ndcg@10']:.4f}) |",
             "|---|---|---|---|---|"]
    for name, row in data["summary"].items():
        gain = row.get("gain_over_in_batch_only")
        lines.append(f"| {name.replace('_', ' ')} | {data['steps'][name]['train']['rows']} "
                     f"| {row['scifact_test_ndcg@10']:.4f} | {'—' if name == 'in_batch_only' else f'{gain:+.4f}'} "
                     f"| {row['dbpedia_test_ndcg@10']:.4f} |")
    return "\n".join(lines)


def strategies(data: dict) -> str:
    base = data["steps"]["base_model"]
    dims = list(base["scifact_test_by_dim"])
    lines = [f"`{data['command']}`. SciFact test is encoded exactly (fp32), at full size and cut to each size; "
             f"dbpedia-5k with `--backend {base['guard_backend']}`, the base model too. Rows marked * were "
             "copied from bench/results/scifact_mining.json (same settings).", "",
             "| recipe | SciFact test nDCG@10 | vs in-batch | " + " | ".join(f"@{d}" for d in dims[1:])
             + f" | dbpedia-5k (base {base['dbpedia_test_ndcg@10']:.4f}) |",
             "|---|---|---|" + "---|" * (len(dims) - 1) + "---|",
             "| base model | " + f"{base['scifact_test_by_dim'][dims[0]]:.4f} | | "
             + " | ".join(f"{base['scifact_test_by_dim'][d]:.4f}" for d in dims[1:]) + " | "
             + f"{base['dbpedia_test_ndcg@10']:.4f} |"]
    for name, row in data["summary"].items():
        gain = row.get("gain_over_in_batch_mnrl")
        by_dim = row.get("scifact_test_by_dim") or {}
        cut = " | ".join(f"{by_dim[d]:.4f}" if d in by_dim else "—" for d in dims[1:])
        label = name.replace("_", " ") + (" *" if "reused_from" in row else "")
        alpha = row.get("guard_alpha")
        guard = f" (mix alpha {alpha})" if alpha is not None and alpha < 1 else ""
        lines.append(f"| {label} | {row['scifact_test_ndcg@10']:.4f} | "
                     f"{'—' if gain is None or name == 'in_batch_mnrl' else f'{gain:+.4f}'} | {cut} | "
                     f"{row['dbpedia_test_ndcg@10']:.4f}{guard} |")
        if unrotated := row.get("scifact_test_by_dim_unrotated"):
            cut = " | ".join(f"{unrotated[d]:.4f}" for d in dims[1:])
            lines.append(f"| ↳ same weights, rotation removed | {unrotated[dims[0]]:.4f} | | {cut} | |")
    return "\n".join(lines)


def matryoshka_dev(data: dict) -> str:
    """Matryoshka variants on SciFact train queries held out from training: nDCG@10 per size."""
    carve = data["carve"]
    rows = {name: row for name, row in data["summary"].items()}
    dims = list(next(iter(rows.values()))["by_dim"])
    lines = [f"`{data['command']}`: nDCG@10 of {carve['held_out_queries']} SciFact train queries held out "
             "from training, searching the whole corpus (SciFact test is never read). Variants without "
             "\"rotation\" in their name train with `--no-matryoshka-rotation`; one run each.", "",
             "| variant | " + " | ".join(f"{d} dims" for d in dims) + " | 128 minus full size |",
             "|---|" + "---|" * (len(dims) + 1)]
    for name, row in rows.items():
        by_dim = row["by_dim"]
        lines.append(f"| {name.replace('_', ' ')} | " + " | ".join(f"{by_dim[d]:.4f}" for d in dims)
                     + f" | {by_dim['128'] - by_dim[dims[0]]:+.4f} |")
    return "\n".join(lines)


def unsupervised(data: dict) -> str:
    s, adapt = data["summary"], data["steps"]["adapt"]
    sci, guard = s["scifact_test_ndcg@10"], s.get("dbpedia_test_ndcg@10")
    gen = adapt["generation"]
    line = (f"`{data['command']}`: `adapt` saw only the SciFact corpus ({gen['passages']} documents, "
            f"{gen['kept']} generated pairs kept: {', '.join(f'{n} {m}' for m, n in gen['kept_by_method'].items())}) "
            f"and took {s['adapt_wall_seconds']:.0f} s. SciFact test nDCG@10 {sci['base']:.4f} → {sci['adapted']:.4f} "
            f"({sci['gain']:+.4f}); its own held-out generated queries {adapt['heldout_ndcg@10']['base']:.4f} → "
            f"{adapt['heldout_ndcg@10']['adapted']:.4f}")
    if guard:
        line += f"; dbpedia-5k {guard['base']:.4f} → {guard['adapted']:.4f} (drop {guard['drop']:+.4f})"
    met = ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in s["targets_met"].items())
    return f"{line}. Targets: {met}." + (f" {data['notes']}" if data.get("notes") else "")


def demo(data: dict) -> str:
    s = data["summary"]
    nd = s["test_ndcg@10"]
    return (f"`embedtune demo` (`{data['command']}`): {s['wall_seconds']:.0f} s end to end, peak "
            f"{s['peak_rss_gb']:.2f} GB; code-search test nDCG@10 {nd['base']:.4f} → {nd['tuned']:.4f} "
            f"({nd['gain']:+.4f}).")


def _encode_rows(data: dict) -> list[tuple[str, dict, dict]]:
    """(backend, its encode step, its summary row) for each embedtune backend a speed run encoded with."""
    return [(backend, data["steps"][f"encode_embedtune_{backend}"], row)
            for backend, row in data["summary"]["encode_corpus"].items()]


def _readme_note(data: dict) -> str:
    return f" {data['readme_note']}" if data.get("readme_note") else ""


def speed_memory(data: dict) -> str:
    plain = data["steps"]["encode_plain"]
    parts = [f"`{backend}` {step['peak_rss_gb']:.2f} GB "
             f"({row['peak_rss_ratio']:.2f}× plain; nDCG@10 change {row['ndcg@10_change']:+.4f})"
             for backend, step, row in _encode_rows(data)]
    return (f"`{data['command']}`: peak RSS encoding the {data['corpus']['documents']:,} abstracts, plain "
            f"{plain['peak_rss_gb']:.2f} GB; embedtune {', '.join(parts)}." + _readme_note(data))


def speed_encode(data: dict) -> str:
    """A repeat of the encoding part alone: each backend's speed and peak against plain's in that run."""
    plain = data["steps"]["encode_plain"]
    parts = [f"`{backend}` {step['corpus_seconds']:.0f} s, **{row['speedup']:.2f}×** plain's speed, "
             f"nDCG@10 change {row['ndcg@10_change']:+.4f}, min cosine to plain {row['min_cosine_to_plain']:.4f}, "
             f"peak {step['peak_rss_gb']:.2f} GB ({row['peak_rss_ratio']:.2f}× plain)"
             for backend, step, row in _encode_rows(data)]
    return (f"`{data['command']}`: encoding the {data['corpus']['documents']:,} abstracts, plain "
            f"{plain['corpus_seconds']:.0f} s at {plain['peak_rss_gb']:.2f} GB; embedtune {'; '.join(parts)}."
            + _readme_note(data))


def speed_encode_on_cpu(data: dict) -> str:
    """The encoding part on another CPU: its name, its measured matmul peaks and how close plain runs to them."""
    plain, peak = data["steps"]["encode_plain"], data["matmul_peak_gflops"]
    return (f"{data['machine']['cpu']}, {data['machine']['cores']} cores, matmul peak {peak['fp32']:.0f} GFLOP/s "
            f"fp32 and {peak['bf16']:.0f} GFLOP/s bf16; plain ran at {plain['model_gflops_per_second']:.0f} GFLOP/s, "
            f"{plain['fraction_of_matmul_peak']:.0%} of the fp32 peak. " + speed_encode(data))


TABLES: dict[str, tuple[str, Callable[[dict], str]]] = {
    "results": ("scifact_supervised.json", supervised),
    "speed": ("speed.json", speed),
    "speed-train": ("speed_train.json", speed_train),
    "speed-memory": ("speed_encode_memory.json", speed_memory),
    "speed-memory-backends": ("speed_encode_memory_backends.json", speed_memory),
    "speed-memory-onnx": ("speed_encode_memory_onnx.json", speed_memory),
    "speed-encode-onnx": ("speed_encode_onnx.json", speed_encode),
    "speed-encode-intel": ("speed_encode_intel.json", speed_encode_on_cpu),
    "speed-train-lora": ("speed_train_lora.json", speed_train),
    "speed-train-attn": ("speed_train_attn.json", speed_train),
    "speed-train-intel": ("speed_train_intel.json", speed_train),
    "demo": ("demo.json", demo),
    "mining": ("scifact_mining.json", mining),
    "strategies": ("scifact_strategies.json", strategies),
    "matryoshka-dev": ("matryoshka_dev.json", matryoshka_dev),
    "unsupervised": ("scifact_unsupervised.json", unsupervised),
    "unsupervised-gpl": ("scifact_unsupervised_gpl.json", unsupervised),
    "unsupervised-mnrl": ("scifact_unsupervised_mnrl.json", unsupervised),
    "unsupervised-margin-mse": ("scifact_unsupervised_margin_mse.json", unsupervised),
}


def updated(text: str) -> str:
    for marker, (filename, render) in TABLES.items():
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        if start not in text:
            continue
        path = RESULTS / filename
        body = render(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else \
            f"_Not measured yet: run the benchmark that writes bench/results/{filename}._"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{body}\n{end}{tail}"
    return text


if __name__ == "__main__":
    current = README.read_text(encoding="utf-8")
    if "--check" in sys.argv:
        sys.exit(0 if updated(current) == current else "README results are stale: run scripts/bench_tables.py")
    README.write_text(updated(current), encoding="utf-8")
