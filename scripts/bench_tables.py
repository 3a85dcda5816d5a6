"""Render the measured-results sections of README.md and docs/ from bench/results/*.json (``--check`` fails on drift).

Neither the README nor a docs page carries a measured number by hand: every figure in these sections
is read from a results file that records the command that produced it. A section is the text between
the marker comments ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` for a NAME in ``TABLES``; it is
rendered wherever it appears, in README.md (the one results table there) or in any page under docs/
(the benchmark pages).
"""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # also when imported by a test
import _readme_section as readme_section  # noqa: E402

ROOT = readme_section.ROOT
README = readme_section.README
DOCS = readme_section.DOCS
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


def speed_train_strongest(data: dict) -> str:
    """embedtune's epoch against every plain sentence-transformers variant run beside it (issue 29)."""
    machine = data["machine"]
    peak = data.get("matmul_peak_gflops", {})
    lines = [f"`{data['command']}` ({machine['cpu']}, {machine['cores']} cores, CPU matrix flags "
             f"{', '.join(machine.get('cpu_matrix_flags', [])) or 'not recorded'}; matmul peak "
             f"{peak.get('fp32', 0):.0f} GFLOP/s fp32, {peak.get('bf16', 0):.0f} bf16):", "",
             "| one training epoch (batch 32, length 256) | ex/s | model GFLOP/s | embedtune × | test nDCG@10 "
             "| embedtune − it, paired 90% interval | peak RSS (embedtune ÷ it) |",
             "|---|---|---|---|---|---|---|"]
    steps = data["steps"]
    for variant, row in data["summary"]["train_one_epoch"].items():
        strategy = variant.partition("_")[0]
        ours = steps[f"train_embedtune_{variant}"]
        step_only = ours.get("examples_per_second_without_dev_eval")
        without = f" ({step_only:.2f} without its {ours['dev_eval_seconds']:.0f} s dev evaluation)" if step_only else ""
        lines.append(f"| **embedtune {strategy}** ({row['precision']}, dropout {row['dropout']:g}) "
                     f"| {ours['examples_per_second']:.2f}{without} | {ours['model_gflops_per_second']:.0f} | — "
                     f"| {ours['test_ndcg@10']:.4f} | — | {ours['peak_rss_gb']:.2f} GB |")
        intervals = ours.get("test_ndcg@10_paired_90pct_interval", {})
        for name, against in row["against_plain"].items():
            key = f"train_plain_{strategy}" + ("" if name == "fp32" else f"_{name}")
            plain = steps[key]
            low, high = intervals.get(key, [float("nan")] * 2)
            label = " ".join(against["plain_flags"]) or "fp32, the model's dropout 0.1"
            ratio = f"{against['throughput_ratio']:.2f}×"
            if "throughput_ratio_without_dev_eval" in against:
                ratio += f" ({against['throughput_ratio_without_dev_eval']:.2f}× without it)"
            lines.append(f"| plain {strategy} ({label}) | {plain['examples_per_second']:.2f} "
                         f"| {plain['model_gflops_per_second']:.0f} | {ratio} "
                         f"| {plain['test_ndcg@10']:.4f} | [{low:+.4f}, {high:+.4f}] "
                         f"| {plain['peak_rss_gb']:.2f} GB ({against['peak_rss_ratio']:.2f}×) |")
    return "\n".join(lines)


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


def rotation_guard(data: dict) -> str:
    """The rotation fitted on SciFact, checked on dbpedia-5k cut to each size: rotated against unrotated."""
    rows = {name: row for name, row in data["summary"].items() if row.get("dbpedia_test_by_dim_unrotated")}
    if not rows:
        return "_No recipe in bench/results/scifact_strategies.json records dbpedia-5k by size yet._"
    dims = list(next(iter(rows.values()))["dbpedia_test_by_dim"])
    lines = [f"From the same results file (`bench/results/scifact_strategies.json`): dbpedia-5k test "
             "nDCG@10 of each rotated recipe cut to each size, and of the same weights with the rotation "
             "removed.", "",
             "| recipe | " + " | ".join(f"{d} dims" for d in dims) + " |",
             "|---|" + "---|" * len(dims)]
    for name, row in rows.items():
        for label, by_dim in ((name.replace("_", " "), row["dbpedia_test_by_dim"]),
                              ("↳ same weights, rotation removed", row["dbpedia_test_by_dim_unrotated"])):
            lines.append(f"| {label} | " + " | ".join(f"{by_dim[d]:.4f}" if d in by_dim else "—" for d in dims)
                         + " |")
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
            f"and took {s['adapt_wall_seconds']:.0f} s{_peak(adapt)}. SciFact test nDCG@10 {sci['base']:.4f} → {sci['adapted']:.4f} "
            f"({sci['gain']:+.4f}); its own held-out generated queries {adapt['heldout_ndcg@10']['base']:.4f} → "
            f"{adapt['heldout_ndcg@10']['adapted']:.4f}")
    if guard:
        line += f"; dbpedia-5k {guard['base']:.4f} → {guard['adapted']:.4f} (drop {guard['drop']:+.4f})"
    met = ", ".join(f"{_target(k, s.get('targets') or {})} {'met' if v else 'NOT met'}"
                    for k, v in s["targets_met"].items())
    return f"{line}. Targets: {met}." + (f" {data['notes']}" if data.get("notes") else "")


# a target's name in targets_met -> (what it is, its key in targets, how its bound reads)
TARGETS = {"scifact_gain": ("SciFact gain", "scifact_gain_at_least", "≥ {:+g}"),
           "adapt_time": ("adapt time", "adapt_seconds_at_most", "≤ {:g} s"),
           "dbpedia_drop": ("dbpedia-5k drop", "dbpedia_drop_at_most", "≤ {:g}")}


def _target(name: str, bounds: dict) -> str:
    """A target as "what ≤ bound" when the results file records its bound, else its bare name."""
    if name not in TARGETS or TARGETS[name][1] not in bounds:
        return name
    label, key, bound = TARGETS[name]
    return f"{label} {bound.format(bounds[key])}"


def _peak(step: dict) -> str:
    return f" (peak {step['peak_rss_gb']:.1f} GB)" if step.get("peak_rss_gb") is not None else ""


def demo(data: dict) -> str:
    s = data["summary"]
    nd = s["test_ndcg@10"]
    return (f"`embedtune demo` (`{data['command']}`): {s['wall_seconds']:.0f} s end to end, peak "
            f"{s['peak_rss_gb']:.2f} GB; code-search test nDCG@10 {nd['base']:.4f} → {nd['tuned']:.4f} "
            f"({nd['gain']:+.4f}).")


def quantize(data: dict) -> str:
    """Every (size, precision) operating point of an ``eval --quantize --dims`` run: bytes per vector and quality."""
    metrics = list(data["metrics"])
    names = {"ndcg@10": "nDCG@10", "recall@100": "Recall@100"}
    lines = [f"`{data['command']}`: {data['model']} on {data['num_queries']} {Path(data['data']).name} "
             f"{data['split']} queries, {data['num_documents']:,} documents; {data['machine']}.", "",
             "| dim | precision | bytes/vector | " + " | ".join(names.get(m, m) for m in metrics) + " |",
             "|---|---|---|" + "---|" * len(metrics)]
    for point in data["operating_points"]:
        lines.append(f"| {point['dim']} | {point['precision']} | {point['bytes_per_vector']} | "
                     + " | ".join(f"{point['metrics'][m]:.4f}" for m in metrics) + " |")
    return "\n".join(lines)


def serve_load(data: dict) -> str:
    """``bench/serve_load.py``: requests/s and latency at each concurrency level."""
    machine, load = data["machine"], data.get("load_average_before") or []
    busy = f", load average {load[0]:.0f} when it started" if load else ""
    lines = [f"`{data['command']}`: `POST /v1/{data['endpoint']}` with {data['model']}, "
             f"{data['summary']['total_errors']} errors, on {machine['cores']} {machine['cpu']} cores{busy}.", "",
             "| concurrency | requests/s | p50 ms | p99 ms | texts per batch |",
             "|---|---|---|---|---|"]
    for step in data["steps"].values():
        lines.append(f"| {step['concurrency']} | {step['requests_per_second']:.1f} | {step['p50_ms']:.0f} "
                     f"| {step['p99_ms']:.0f} | {step['mean_texts_per_batch']:.1f} |")
    return "\n".join(lines)


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


def speed_encode_bound(data: dict) -> str:
    """The encoding part with the matmul ceilings per precision and the load-only memory floor."""
    bound, peak = data["summary"]["encode_bound"], data["matmul_peak_gflops"]
    ceilings = "; ".join(f"{precision} {bound[precision]['peak_gops']:.0f} GOP/s, so at most "
                         f"{bound[precision]['docs_per_second_ceiling']:.0f} docs/s "
                         f"({bound[precision]['ceiling_over_plain']:.2f}× plain)"
                         for precision in ("fp32", "bf16", "int8") if precision in bound)
    floor = data["summary"].get("encode_floor")
    floor_text = (f" Loading the model alone (importing sentence-transformers, no encoding) peaked at "
                  f"{floor['peak_rss_gb']:.2f} GB, {floor['peak_rss_ratio']:.2f}× plain's whole run." if floor else "")
    sources = ", ".join(f"{k.removeprefix('int8_')} {v:.0f}" for k, v in peak.items() if k.startswith("int8_"))
    return (speed_encode_on_cpu(data) + f"\n\nMatmul peaks measured in the same run, best over MiniLM's layer shapes at "
            f"1,024 and 8,192 rows (int8: {sources} GOP/s): {ceilings}, counting {bound['gop_per_document']:.2f} "
            f"GOP per document and nothing but matrix multiplies. {bound['target_ratio']:.0f}× plain would need "
            f"{bound['gops_needed_for_target']:.0f} GOP/s." + floor_text)


def speed_encode_on_cpu(data: dict) -> str:
    """The encoding part on another CPU: its name, its measured matmul peaks and how close plain runs to them."""
    plain, peak = data["steps"]["encode_plain"], data["matmul_peak_gflops"]
    return (f"{data['machine']['cpu']}, {data['machine']['cores']} cores, matmul peak {peak['fp32']:.0f} GFLOP/s "
            f"fp32 and {peak['bf16']:.0f} GFLOP/s bf16; plain ran at {plain['model_gflops_per_second']:.0f} GFLOP/s, "
            f"{plain['fraction_of_matmul_peak']:.0%} of the fp32 peak. " + speed_encode(data))


ENGINE_LABELS = {"st_torch_fp32": "sentence-transformers, PyTorch fp32",
                 "st_openvino_fp32": "sentence-transformers, OpenVINO fp32",
                 "st_openvino_int8_static": "sentence-transformers, OpenVINO static int8",
                 "st_onnx_fp32": "sentence-transformers, ONNX fp32",
                 "st_onnx_O3": "sentence-transformers, ONNX O3-optimised",
                 "embedtune_lean_openvino_int8": "embedtune `LeanEncoder` on an `openvino-int8` export (no PyTorch)"}


def _engine_label(name: str, step: dict) -> str:
    if name in ENGINE_LABELS:
        return ENGINE_LABELS[name]
    if name.startswith("st_onnx_int8_dynamic_"):
        return f"sentence-transformers, ONNX dynamic int8 ({name.removeprefix('st_onnx_int8_dynamic_')})"
    return f"embedtune `{step['backend'].removeprefix('embedtune ')}`"


def st_backends(data: dict) -> str:
    """Every engine of bench/st_backends.py on one machine: speed against plain and the fastest sentence-transformers."""
    steps, summary = data["steps"], data["summary"]
    rows = {name: row for name, row in summary.items() if isinstance(row, dict) and "documents_per_second" in row}
    st_rows = [name for name in rows if name.startswith("st_")]
    fastest = max(st_rows, key=lambda name: rows[name]["documents_per_second"])
    machine = data["machine"]
    flags = ", ".join(machine.get("cpu_matrix_flags", [])) or "not recorded"
    environments: list[dict] = []  # one per --st-python, in the order they ran
    for name in st_rows:
        if (env := steps[name].get("versions")) and env not in environments:
            environments.append(env)
    lines = [f"`{data['command']}` ({machine['cpu']}, {machine['cores']} cores, CPU matrix flags {flags}; "
             f"every engine encoded the {steps[fastest]['documents']:,} SciFact abstracts and the test queries "
             f"with all-MiniLM-L6-v2, timed on the abstracts):", "",
             "| engine | documents/s | × plain PyTorch fp32 | × fastest sentence-transformers | SciFact test nDCG@10 |",
             "|---|---|---|---|---|"]
    best = rows[fastest]
    for name, row in rows.items():
        label = _engine_label(name, steps[name])
        if name == fastest:
            label = f"**{label}** (fastest sentence-transformers)"
        lines.append(f"| {label} | {row['documents_per_second']:.1f} | {row['speed_vs_st_torch_fp32']:.2f} "
                     f"| {row['documents_per_second'] / best['documents_per_second']:.2f} | {row['ndcg@10']:.4f} |")
    installs = summary.get("installs_next_to_pins", {})
    refused = [extra for extra, ok in installs.items() if not ok]
    lines += ["", "Next to embedtune's pinned versions, pip refused sentence-transformers' "
              + " and ".join(f"`{extra}`" for extra in refused) + " extra" + ("s" if len(refused) > 1 else "")
              + " (its errors are in the results file); those rows ran from "
              + ("separate environments" if len(environments) > 1 else "a separate environment")
              + " on the same machine, in the same run: " + "; ".join(", ".join(f"{k} {v}" for k, v in env.items())
                                                       for env in environments) + "."
              if refused else ""]
    return "\n".join(lines).rstrip()


RUN_LABELS = {"base": "base model (all-MiniLM-L6-v2)", "embedtune_default": "`embedtune train` (default: recipe auto)",
              "embedtune_in_batch": "`embedtune train --recipe fixed` (in-batch negatives only)",
              "plain_expert": "plain sentence-transformers expert script (MNRL, 3 epochs, bf16)"}


def default_recipe(data: dict) -> str:
    """``bench/default_recipe.py``: the plain default command against in-batch only and an expert script.

    Rows may come from several runs (``--continue``): each says the commit it ran at and, where its
    conditions differ from an idle machine, how (the row's ``run`` in the results file).
    """
    summary = data.get("summary") or {}
    runs = len(data.get("commands", [data["command"]]))
    lines = [f"`bench/results/default_recipe.json` ({data['machine']['cpu']}, {data['machine']['cores']} cores; "
             f"{runs} run{'s' if runs > 1 else ''} of `bench/default_recipe.py`, each command in the file; every model "
             "scored once on the test split after every choice was made on dev)."
             + (f" {data['note']}" if data.get("note") else ""), ""]
    for name, entry in summary.items():
        lines += [f"**{name}**", "", "| run | test nDCG@10 | dbpedia-5k nDCG@10 | wall seconds (train) | recipe chosen "
                  "| ran at |", "|---|---|---|---|---|---|"]
        for run, label in RUN_LABELS.items():
            if run not in entry:
                continue
            row = entry[run]
            seconds = f"{row['train_wall_seconds']:.0f}" if row["train_wall_seconds"] else "—"
            lines.append(f"| {label} | {row['test_ndcg@10']:.4f} | {row.get('dbpedia_ndcg@10', '—')} | {seconds} | "
                         f"{row.get('recipe_chosen', '—')} | {_provenance(data['steps'].get(f'{name}:{run}', {}))} |")
        margins = [f"{key.replace('_', ' ')}: {entry[key]:+.4f}" for key in
                   ("default_minus_embedtune_in_batch", "default_minus_plain_expert", "default_dbpedia_drop")
                   if key in entry]
        if "default_time_ratio" in entry:
            margins.append(f"default time / in-batch time: {entry['default_time_ratio']:.2f}")
        if "winner_only_time_ratio" in entry:
            margins.append(f"the chosen recipe's own training (no search) / in-batch time: "
                           f"{entry['winner_only_time_ratio']:.2f}")
        lines += ["", "; ".join(margins) + ("." if margins else ""), ""]
    return "\n".join(lines).rstrip()


def _provenance(step: dict) -> str:
    """A row's commit (short) and, if any, the note on how it ran."""
    run = step.get("run") or {}
    commit = str(run.get("commit") or "not recorded")
    if re.fullmatch(r"[0-9a-f]{7,40}(\+dirty)?", commit):
        commit = commit[:7] + ("+dirty" if commit.endswith("+dirty") else "")
    return commit + (f" ({run['note']})" if run.get("note") else "")


TABLES: dict[str, tuple[str, Callable[[dict], str]]] = {
    "default-recipe": ("default_recipe.json", default_recipe),
    "results": ("scifact_supervised.json", supervised),
    "speed": ("speed.json", speed),
    "speed-train": ("speed_train.json", speed_train),
    "speed-memory": ("speed_encode_memory.json", speed_memory),
    "speed-memory-backends": ("speed_encode_memory_backends.json", speed_memory),
    "speed-memory-onnx": ("speed_encode_memory_onnx.json", speed_memory),
    "speed-encode-onnx": ("speed_encode_onnx.json", speed_encode),
    "speed-encode-intel": ("speed_encode_intel.json", speed_encode_on_cpu),
    "speed-encode-openvino": ("speed_encode_openvino_streams.json", speed_encode_bound),
    "speed-encode-lean": ("speed_encode_lean.json", speed_encode_bound),
    "speed-encode-ladder": ("speed_encode_ladder.json", speed_encode_on_cpu),
    "speed-train-lora": ("speed_train_lora.json", speed_train),
    "speed-train-attn": ("speed_train_attn.json", speed_train),
    "speed-train-intel": ("speed_train_intel.json", speed_train),
    "speed-train-strongest": ("speed_train_strongest.json", speed_train_strongest),
    "speed-train-amd": ("speed_train_amd.json", speed_train_strongest),
    "st-backends": ("st_backends.json", st_backends),
    "st-backends-amd": ("st_backends_amd.json", st_backends),
    "demo": ("demo.json", demo),
    "mining": ("scifact_mining.json", mining),
    "strategies": ("scifact_strategies.json", strategies),
    "strategies-rotation-dbpedia": ("scifact_strategies.json", rotation_guard),
    "matryoshka-dev": ("matryoshka_dev.json", matryoshka_dev),
    "unsupervised": ("scifact_unsupervised.json", unsupervised),
    "unsupervised-gpl": ("scifact_unsupervised_gpl.json", unsupervised),
    "unsupervised-mnrl": ("scifact_unsupervised_mnrl.json", unsupervised),
    "unsupervised-margin-mse": ("scifact_unsupervised_margin_mse.json", unsupervised),
    "quantize": ("scifact_quantize.json", quantize),
    "serve-load": ("serve_load.json", serve_load),
}


def updated(text: str, where: str = "the text") -> str:
    """``text`` with every section of ``TABLES`` it holds rendered from its results file."""
    for marker, (filename, render) in TABLES.items():
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        if start not in text:
            continue
        path = RESULTS / filename
        body = render(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else \
            f"_Not measured yet: run the benchmark that writes bench/results/{filename}._"
        text = readme_section.updated(text, start, end, f"{body}\n", where=where)
    return text


def targets() -> list[Path]:
    """The files that may hold sections: README.md and every Markdown page under docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def main() -> None:
    check = "--check" in sys.argv
    texts = {path: path.read_text(encoding="utf-8") for path in targets() if path.is_file()}
    unplaced = [m for m in TABLES if not any(f"<!-- {m}:start -->" in t for t in texts.values())]
    if unplaced:
        message = (f"no page holds the results section(s) {', '.join(unplaced)}: add their markers to README.md "
                   "or a page under docs/")
        if check:
            sys.exit(message)
        print(f"warning: {message}", file=sys.stderr)
    stale = []
    for path, current in texts.items():
        try:
            new = updated(current, where=readme_section.relative(path))
        except readme_section.MissingMarkerError as e:
            sys.exit(str(e))
        if new != current:
            stale.append(readme_section.relative(path))
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        sys.exit(f"results are stale in {', '.join(stale)}: run python scripts/bench_tables.py")


if __name__ == "__main__":
    main()
