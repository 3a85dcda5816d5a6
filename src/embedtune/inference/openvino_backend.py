"""Encoding with OpenVINO: the transformer as OpenVINO IR, fp32 or static int8 calibrated on the user's corpus.

Why a second runtime beside ONNX Runtime: on CPUs, OpenVINO's kernels (and its int8 ones on VNNI /
AMX) run these encoders faster than ONNX Runtime does, and static int8 -- activations quantized
too, with scales measured on real inputs -- is where the large CPU speed-ups are
(``bench/results/st_backends.json`` compares this with sentence-transformers' own OpenVINO backend).

- ``openvino``: the plain traced graph (``embedtune.inference.onnx_export.trace_onnx``) converted to
  OpenVINO IR and run at fp32 inference precision: the embeddings of ``model.encode`` (to ~1e-6).
- ``openvino-int8``: the same graph quantized by NNCF (``nncf.quantize``, transformer preset:
  smooth-quant and bias correction), its activation ranges calibrated on up to
  ``CALIBRATION_TEXTS`` texts of the user's own corpus.

Files keep sentence-transformers' OpenVINO names (``openvino_model.xml`` and, for the static int8
model, ``openvino_model_qint8_quantized.xml``), with the inputs and the ``last_hidden_state`` output
of its exports, so an ``openvino/`` folder written here also loads with
``SentenceTransformer(folder, backend="openvino")`` where optimum-intel is installed.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from embedtune._optional import optional_imports
from embedtune.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)
T = TypeVar("T")

FP32_FILE = "openvino_model.xml"
INT8_FILE = "openvino_model_qint8_quantized.xml"  # sentence-transformers' name for a static int8 model
CALIBRATION_TEXTS = 300  # as sentence-transformers' static int8 export samples by default
MIN_CALIBRATION_TEXTS = 32  # fewer and the activation ranges are guesses: refuse rather than quantize badly
CALIBRATION_MAX_TOKENS = 1024  # padded tokens per calibration batch: the encoder's own CPU batch size
SHAPE_CACHE = 64  # input shapes OpenVINO's CPU plugin keeps compiled state for (OpenVinoRunner)
# The operations that do the arithmetic, in OpenVINO's runtime graph (the rest move or reshape data).
COMPUTE_LAYERS = frozenset({"FullyConnected", "MatMul", "Subgraph", "ScaledDotProductAttention", "Convolution",
                            "MVN", "Eltwise", "Softmax"})


def calibration_sample(texts: Sequence[str], size: int = CALIBRATION_TEXTS) -> list[str]:
    """Up to ``size`` texts spread evenly over ``texts`` (not the first ones: a corpus is often sorted),
    with empty texts left out; the same texts give the same sample."""
    kept = [t for t in texts if t.strip()]
    if len(kept) < MIN_CALIBRATION_TEXTS:
        raise ConfigError(f"static int8 (openvino-int8) calibrates on the texts of the corpus: {len(kept)} given, "
                          f"at least {MIN_CALIBRATION_TEXTS} needed (encode a corpus first, give calibration data, "
                          "or use --backend openvino / onnx-int8)")
    if len(kept) <= size:
        return kept
    step = len(kept) / size
    return [kept[int(i * step)] for i in range(size)]


def export_openvino(model: SentenceTransformer, directory: str | Path) -> Path:
    """Write ``directory/openvino_model.xml`` (+ ``.bin``), the fp32 model, unless present; return its path.

    The ``.bin`` is moved into place before the ``.xml``: an ``.xml`` present means a complete model,
    and a killed export leaves nothing that passes for one.
    """
    directory = Path(directory)
    target = directory / FP32_FILE
    if target.is_file():
        return target
    with optional_imports("openvino", "the OpenVINO backend"):
        import openvino as ov
    from embedtune.inference.onnx_export import trace_onnx

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=".export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        trace_onnx(model, raw)
        # fp32 weights on disk: OpenVINO would store them as fp16 by default, which is not the model.
        _save(ov, ov.convert_model(str(raw)), Path(tmp) / FP32_FILE, target)
    return target


def quantize_openvino(model: SentenceTransformer, fp32: Path, target: Path, calibration: Sequence[str]) -> Path:
    """Write the static int8 model of ``fp32`` (``export_openvino``'s) to ``target`` unless present,
    calibrated on ``calibration`` texts encoded as documents; return ``target``."""
    if target.is_file():
        return target
    with optional_imports("openvino", "static int8 quantization (openvino-int8)"):
        import openvino as ov
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        quantized = _quantize(ov.Core().read_model(str(fp32)), model, calibration)
        _save(ov, quantized, Path(tmp) / target.name, target)
    return target


def _save(ov: Any, graph: Any, staged: Path, target: Path) -> None:
    ov.save_model(graph, str(staged), compress_to_fp16=False)
    os.replace(staged.with_suffix(".bin"), target.with_suffix(".bin"))
    os.replace(staged, target)


def _quantize(graph: Any, model: SentenceTransformer, texts: Sequence[str]) -> Any:
    """NNCF static int8 of ``graph``, its activation ranges measured on ``texts`` as the encoder batches them."""
    with optional_imports("openvino", "static int8 quantization (openvino-int8)"):
        import nncf
    from embedtune.inference.batching import token_budget_batches, tokenize
    from embedtune.prompts import role_prompt

    names = {port.get_any_name() for port in graph.inputs}
    tokenized = tokenize(model, list(texts), prompt=role_prompt(model, "document"))
    pad_id = model.tokenizer.pad_token_id or 0
    batches = [{k: v for k, v in batch.inputs.items() if k in names}
               for batch in token_budget_batches(tokenized, CALIBRATION_MAX_TOKENS, pad_id=pad_id)]
    logger.info("openvino-int8: calibrating on %d texts (%d batches)", len(texts), len(batches))
    # NNCF draws its progress bars on stdout, which belongs to the command's output (`--json -`).
    with contextlib.redirect_stdout(sys.stderr):
        return nncf.quantize(graph, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER,
                             subset_size=len(batches))


class OpenVinoRunner:
    """A compiled OpenVINO model giving ``last_hidden_state`` for padded numpy inputs.

    Compiled for throughput: OpenVINO splits the threads into streams (2 streams of 1 thread on 2
    cores) and ``map`` keeps one batch in flight per stream. These models' matrices are small enough
    that threads of one batch spend much of a layer waiting for each other: on the 2-core Intel Xeon
    of bench/results, ``openvino-int8`` encoded SciFact end to end at 1.89x plain PyTorch with streams
    and 1.55x with one batch on 2 threads (speed_encode_openvino_streams.json, speed_encode_openvino.json),
    at more memory (a batch per stream).
    """

    def __init__(self, path: Path, *, exact: bool, threads: int) -> None:
        import openvino as ov

        # fp32 inference precision for the exact backend: on CPUs with bf16 units OpenVINO would
        # otherwise run an fp32 graph in bf16. The int8 model takes OpenVINO's fastest choice.
        # The CPU plugin keeps kernels and buffers for up to 5,000 input shapes by default: a server's
        # requests of every size grew it (400 mixed requests, lean int8, 2 cores: peak 0.60 GB; 0.55 GB
        # keeping 64 shapes, same speed; bench/results/openvino_shape_cache.json). 64 holds every
        # shape of a corpus encode on the width ladder (batching.ladder_width).
        config: dict[str, Any] = {"PERFORMANCE_HINT": "THROUGHPUT", "INFERENCE_NUM_THREADS": threads,
                                  "CPU_RUNTIME_CACHE_CAPACITY": SHAPE_CACHE}
        if exact:
            config["INFERENCE_PRECISION_HINT"] = "f32"
        self.compiled = ov.Core().compile_model(str(path), "CPU", config)
        self.names = {port.get_any_name() for port in self.compiled.inputs}
        self.jobs = max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))

    def __call__(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.compiled({k: v for k, v in inputs.items() if k in self.names})[0]

    def map(self, batches: Iterable[T]) -> Iterator[tuple[T, np.ndarray]]:
        """``(batch, last_hidden_state)`` for every batch (each with its ``inputs``), in their order, with
        ``jobs`` batches in flight.

        Plain infer requests waited on in order, not OpenVINO's ``AsyncInferQueue``: the queue runs a
        Python callback on OpenVINO's stream threads, and a compiled model freed while such a thread
        waits for the GIL hung the process (its destructor joins the thread while holding the GIL:
        seen at interpreter exit in tests/unit/test_lean.py). Nothing here runs Python off the main thread.
        """
        idle = [self.compiled.create_infer_request() for _ in range(self.jobs)]
        in_flight: deque[tuple[T, Any]] = deque()
        try:
            for batch in batches:
                if not idle:
                    yield _finished(*in_flight.popleft(), idle)
                request = idle.pop()
                request.start_async({k: v for k, v in batch.inputs.items() if k in self.names})
                in_flight.append((batch, request))
            while in_flight:
                yield _finished(*in_flight.popleft(), idle)
        finally:  # a consumer that stopped early: no request is left running
            for _, request in in_flight:
                request.wait()

    def kernels(self) -> dict[str, int]:
        """The compiled graph's arithmetic by kernel and precision as OpenVINO reports it
        (``FullyConnected: brgemm_avx512_amx_I8 u8``, ...): which CPU units did the work."""
        counts: Counter[str] = Counter()
        for op in self.compiled.get_runtime_model().get_ops():
            info = op.get_rt_info()
            layer, kernel, precision = (info[key].astype(str) if key in info else "?"
                                        for key in ("layerType", "primitiveType", "runtimePrecision"))
            if layer in COMPUTE_LAYERS:
                counts[f"{layer}: {kernel} {precision}"] += 1
        return dict(counts.most_common())


def _finished(batch: T, request: Any, idle: list[Any]) -> tuple[T, np.ndarray]:
    """Wait for ``request``, return ``(batch, its output)`` and put the request back in ``idle``."""
    request.wait()
    output = request.get_output_tensor(0).data.copy()
    idle.append(request)
    return batch, output


def openvino_directory(model: SentenceTransformer, export_dir: str | Path | None) -> Path:
    """Where a model's OpenVINO files live: ``export_dir``, else the cache folder, by weights."""
    from embedtune.inference.cache import default_cache_dir, model_fingerprint

    return Path(export_dir) if export_dir is not None else default_cache_dir() / "openvino" / model_fingerprint(model)


def shipped_directory(model: SentenceTransformer, *, int8: bool) -> Path | None:
    """The ``openvino/`` folder of the model folder ``model`` was loaded from, when it holds the graph
    asked for (``INT8_FILE`` for int8, else ``FP32_FILE``); None otherwise.

    Why: an ``embedtune export --format openvino-int8`` folder carries the int8 model a user deploys,
    so encoding with that folder as the model (``eval --model dist/ov-int8``) runs that model rather
    than calibrating another one on whatever corpus is at hand. A folder without the file is not
    used, so nothing is ever written into a user's model folder (the cache folder is used instead).
    """
    first = model[0] if len(model) else None
    config = getattr(getattr(first, "auto_model", None), "config", None)
    source = getattr(config, "_name_or_path", "") or ""
    return shipped_in(source, int8=int8) if source else None


def shipped_in(folder: str | Path, *, int8: bool) -> Path | None:
    """``folder``'s ``openvino/`` folder (or its parent's) when it holds the int8 or fp32 graph: see
    ``shipped_directory``. A path check only, so a command can ask before loading the model; a name
    that is not a folder (a hub id) ships nothing, whatever the working directory holds."""
    wanted = INT8_FILE if int8 else FP32_FILE
    folder = Path(folder)
    if not folder.is_dir():
        return None
    # The transformer at the model folder's root, or in a module folder (0_Transformer/) of one: not
    # any parent folder, whose openvino/ could belong to another model.
    candidates = [folder] + ([folder.parent] if (folder.parent / "modules.json").is_file() else [])
    for candidate in candidates:
        if (candidate / "openvino" / wanted).is_file():
            return candidate / "openvino"
    return None


def int8_path(directory: Path, calibration: Sequence[str]) -> Path:
    """Where the static int8 model calibrated on ``calibration`` lives: another corpus, another model."""
    from embedtune.inference.cache import texts_fingerprint

    return directory / f"calibrated-{texts_fingerprint(list(calibration))[:16]}" / INT8_FILE


def prebuilt_int8(export_dir: str | Path | None) -> bool:
    """Whether ``export_dir`` already holds a static int8 model (an ``embedtune export --format openvino-int8``)."""
    return export_dir is not None and (Path(export_dir) / INT8_FILE).is_file()


def openvino_runner(model: SentenceTransformer, export_dir: str | Path | None, *, int8: bool,
                    calibration: Sequence[str] | None, threads: int) -> OpenVinoRunner:
    """The fp32 model, or the int8 one: calibrated on a sample of ``calibration``, or the one ``export_dir`` holds."""
    directory = openvino_directory(model, export_dir)
    if int8 and calibration is None and prebuilt_int8(directory):
        logger.info("openvino-int8: the calibrated model in %s", directory)
        return OpenVinoRunner(directory / INT8_FILE, exact=False, threads=threads)
    fp32 = export_openvino(model, directory)
    if not int8:
        return OpenVinoRunner(fp32, exact=True, threads=threads)
    if calibration is None:
        raise ConfigError("openvino-int8 needs texts of the corpus to calibrate on")
    calibration = calibration_sample(calibration)
    int8_model = quantize_openvino(model, fp32, int8_path(directory, calibration), calibration)
    return OpenVinoRunner(int8_model, exact=False, threads=threads)
