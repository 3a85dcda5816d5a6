"""``embedtune export``: write a trained model in the form its consumer loads unchanged.

- ``st``: a sentence-transformers folder (``SentenceTransformer(out)``);
- ``adapter``: the LoRA adapter kept by ``train --strategy lora`` (peft; ``model.load_adapter(out)``
  on the base model named in its ``adapter_config.json``);
- ``onnx`` / ``onnx-int8``: one ONNX graph whose output is the finished sentence embedding
  (pooling and normalisation inside), the tokenizer files and a manifest; ONNX Runtime and
  ``tokenizers`` load it without torch (see ``embedtune.export.onnx_model.OnnxEmbedder``);
- ``openvino`` / ``openvino-int8``: a sentence-transformers folder with the transformer in OpenVINO
  IR under ``openvino/`` (fp32, and for ``openvino-int8`` the static int8 model calibrated on the
  user's documents), in the file names ``SentenceTransformer(out, backend="openvino")`` reads.

Every export is loaded back the way its user will load it and compared with the source model on
probe texts; the smallest cosine is reported, and with ``eval_data`` the nDCG@10 of both.
"""
from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from embedtune._io import write_json_atomic
from embedtune._owned import check_output_folder, staged_directory
from embedtune._writable import check_writable
from embedtune.errors import EmbedtuneError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

ExportFormat = Literal["st", "adapter", "onnx", "onnx-int8", "openvino", "openvino-int8"]
FORMATS: tuple[str, ...] = ("st", "adapter", "onnx", "onnx-int8", "openvino", "openvino-int8")
OPENVINO_DIR = "openvino"  # where sentence-transformers' OpenVINO backend looks in a model folder
ADAPTER_DIR = "adapter"
# Short and long, plain and technical: enough to catch a wrong pooling, truncation or prompt.
PROBE_TEXTS = [
    "How do I reset my password?",
    "Vitamin D deficiency is associated with an increased risk of respiratory infections.",
    "def read_config(path):\n    return yaml.safe_load(open(path))",
    "The Treaty of Westphalia ended the Thirty Years' War in 1648. " * 30,
    "ok",
]
Encode = Callable[[list[str], Literal["query", "document"]], np.ndarray]


class NoAdapterError(EmbedtuneError):
    """``--format adapter`` was asked of a model that keeps no adapter."""


@dataclass
class ExportResult:
    """Where the export went and how close it is to the source model."""

    format: str
    out: str
    source: str
    files: list[str]
    min_cosine: float
    seconds: float
    ndcg_at_10: dict[str, Any] = field(default_factory=dict)  # {"data", "source", "exported"}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_table(self) -> str:
        lines = [f"exported {self.source} as {self.format} to {self.out} ({', '.join(self.files)})",
                 f"smallest cosine to the source model on {len(PROBE_TEXTS)} probe texts: {self.min_cosine:.6f}"]
        if self.ndcg_at_10:
            source, exported = self.ndcg_at_10["source"], self.ndcg_at_10["exported"]
            lines.append(f"nDCG@10 on {self.ndcg_at_10_data}: source {source:.4f}, export {exported:.4f}, "
                         f"change {exported - source:+.4f}")
        lines.append(f"{self.seconds:.1f}s")
        return "\n".join(lines)

    @property
    def ndcg_at_10_data(self) -> str:
        return str(self.ndcg_at_10.get("data", ""))


def export_model(model: str | None, fmt: ExportFormat, out: str | Path, *, overwrite: bool = False,
                 eval_data: str | None = None, eval_split: str = "test",
                 calibration_data: str | None = None) -> ExportResult:
    """Export ``model`` (a folder or hub id) as ``fmt`` into ``out`` and check it against the source.

    ``eval_data`` (a BEIR folder) also scores nDCG@10 of the source and of the export on
    ``eval_split``: the measured quality cost of an int8 export. ``openvino-int8`` calibrates on
    ``calibration_data`` (a BEIR folder or corpus .jsonl; by default ``eval_data``'s corpus).
    """
    from embedtune.inference.search import make_encoder
    from embedtune.models import display_name, load_model, resolve_model

    if fmt not in FORMATS:
        raise EmbedtuneError(f'unknown export format "{fmt}" (choose one of: {", ".join(FORMATS)})')
    start = time.perf_counter()
    adapter = _adapter_folder(model) if fmt == "adapter" else None
    check_output_folder(out, overwrite=overwrite)
    check_writable(out)
    dataset = _load_eval_set(eval_data, eval_split) if eval_data else None
    calibration = _calibration_texts(calibration_data or eval_data) if fmt == "openvino-int8" else None
    source = load_model(model)
    if adapter is not None:
        _check_adapter_carries_everything(source, model)
    with staged_directory(out, overwrite=overwrite, command="embedtune export") as staging:
        if fmt == "st":
            source.save(str(staging))
        elif fmt == "adapter":
            shutil.copytree(adapter, staging, dirs_exist_ok=True)
        elif fmt.startswith("openvino"):
            _write_openvino(source, staging, calibration)
        else:
            _write_onnx(source, staging, int8=fmt == "onnx-int8", source_name=display_name(model))
        files = sorted(p.name for p in staging.iterdir())
    exported = _load_export(fmt, Path(out))
    reference = make_encoder(source, "torch").encode
    cosines = _row_cosines(reference(PROBE_TEXTS, "document"), exported(PROBE_TEXTS, "document"))
    result = ExportResult(format=fmt, out=str(out), source=display_name(model), files=files,
                          min_cosine=float(cosines.min()), seconds=0.0)
    if dataset is not None:
        result.ndcg_at_10 = {"data": f"{eval_data} ({eval_split})", "source": _ndcg_at_10(reference, dataset),
                             "exported": _ndcg_at_10(exported, dataset)}
    result.seconds = time.perf_counter() - start
    logger.info("export to %s: min cosine %.6f to %s", out, result.min_cosine, resolve_model(model))
    return result


def _check_adapter_carries_everything(source: Any, model: str | None) -> None:
    """A peft adapter holds the transformer's low-rank updates only: a Matryoshka rotation added
    after training (a Dense module, see ``embedtune.training.rotation``) would be silently lost."""
    from embedtune.inference.model_parts import head_of

    if head_of(source)[0] is not None:
        raise NoAdapterError(f'model "{model}" ends in a Matryoshka rotation (its Dense module after pooling), '
                             "which a LoRA adapter cannot carry: export it with --format st or onnx, or train "
                             "with --no-matryoshka-rotation to keep an adapter-only model")


def _adapter_folder(model: str | None) -> Path:
    """The adapter saved beside a LoRA-trained model (``MODEL/adapter``), or MODEL when it is one."""
    folder = Path(str(model)) if model else None
    for candidate in ([folder / ADAPTER_DIR, folder] if folder else []):
        if (candidate / "adapter_config.json").is_file():
            return candidate
    raise NoAdapterError(f'model "{model or "all-MiniLM-L6-v2"}" has no LoRA adapter (no {ADAPTER_DIR}/'
                         f"adapter_config.json): only `embedtune train --strategy lora` keeps one; "
                         f"export this model with --format st or onnx")


def _write_onnx(model: SentenceTransformer, staging: Path, *, int8: bool, source_name: str) -> None:
    from embedtune import __version__
    from embedtune.export.onnx_model import MANIFEST
    from embedtune.inference.model_parts import head_of
    from embedtune.inference.onnx_export import FP32_FILE, export_onnx
    from embedtune.prompts import role_prompt

    graph = export_onnx(model, staging, int8=int8, pooled=True)
    if int8:
        (staging / FP32_FILE).unlink()
    # tokenizer.json serves ``tokenizers``; the other files let transformers' AutoTokenizer load it too.
    model.tokenizer.save_pretrained(str(staging))
    write_json_atomic(staging / MANIFEST, {
        "format": "onnx-int8" if int8 else "onnx", "file": graph.name, "source_model": source_name,
        "inputs": ["input_ids", "attention_mask", "token_type_ids"], "output": "sentence_embedding",
        "dimension": model.get_embedding_dimension(), "max_seq_length": model.max_seq_length,
        "pad_token_id": model.tokenizer.pad_token_id or 0,
        "pooling": model[1].get_config_dict()["pooling_mode"], "normalized": head_of(model)[1],
        "prompts": {"query": role_prompt(model, "query") or "", "document": role_prompt(model, "document") or ""},
        "embedtune_version": __version__,
    })


def _write_openvino(model: SentenceTransformer, staging: Path, calibration: list[str] | None) -> None:
    """The sentence-transformers folder, and its transformer in OpenVINO IR under ``openvino/``."""
    from embedtune.inference.openvino_backend import INT8_FILE, export_openvino, quantize_openvino

    model.save(str(staging))
    fp32 = export_openvino(model, staging / OPENVINO_DIR)
    if calibration is not None:
        quantize_openvino(model, fp32, fp32.with_name(INT8_FILE), calibration)


def _calibration_texts(data: str | None) -> list[str]:
    """A sample of the documents static int8 calibrates on: a BEIR folder's corpus or a corpus .jsonl."""
    from embedtune.data.beir import corpus_file, read_corpus
    from embedtune.inference.openvino_backend import calibration_sample

    if data is None:
        raise EmbedtuneError("--format openvino-int8 calibrates on your documents: give --calibration-data "
                             "(a BEIR folder or corpus .jsonl; --eval-data's corpus is used when given)")
    path = corpus_file(data)
    if not path.is_file():
        raise EmbedtuneError(f'--calibration-data: "{data}" holds no corpus (a BEIR folder with corpus.jsonl '
                             "or a corpus .jsonl file)")
    return calibration_sample(list(read_corpus(path).values()))


def _load_export(fmt: str, out: Path) -> Encode:
    """The export loaded as its user would, as a function of (texts, role)."""
    if fmt.startswith("openvino"):
        from sentence_transformers import SentenceTransformer

        from embedtune.inference import FastEncoder

        encoder = FastEncoder(SentenceTransformer(str(out)), fmt, export_dir=out / OPENVINO_DIR)  # type: ignore[arg-type]
        return encoder.encode
    if fmt.startswith("onnx"):
        from embedtune.export.onnx_model import OnnxEmbedder

        return OnnxEmbedder(out).encode
    from embedtune.inference.search import make_encoder

    if fmt == "st":
        from sentence_transformers import SentenceTransformer

        return make_encoder(SentenceTransformer(str(out)), "sentence-transformers").encode
    from embedtune.models import load_model

    base_name = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]
    base = load_model(base_name)
    base.load_adapter(str(out))
    return make_encoder(base, "sentence-transformers").encode


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.clip(np.linalg.norm(a, axis=1, keepdims=True), 1e-12, None)
    b = b / np.clip(np.linalg.norm(b, axis=1, keepdims=True), 1e-12, None)
    return (a * b).sum(axis=1)


def _load_eval_set(folder: str, split: str):
    from embedtune.data.beir import load_beir

    return load_beir(folder, split)


def _ndcg_at_10(encode: Encode, dataset: Any, metrics: Sequence[str] = ("ndcg@10",)) -> float:
    from embedtune.evaluation.metrics import evaluate_run
    from embedtune.inference.search import normalised, search

    query_ids = dataset.evaluable_query_ids()
    documents = normalised(encode(list(dataset.corpus.values()), "document"))
    queries = normalised(encode([dataset.queries[q] for q in query_ids], "query"))
    run = search(queries, documents, query_ids, list(dataset.corpus), 10)
    return evaluate_run({q: dataset.qrels[q] for q in query_ids}, run, list(metrics))[0]["ndcg@10"]
