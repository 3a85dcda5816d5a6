"""``eval --report``: score a model and its base model (when it has one) on one split and write the HTML report."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedtune.config import parse_dims
from embedtune.errors import OutputExistsError
from embedtune.inference.cache import EmbeddingCache
from embedtune.evaluation.metrics import DEFAULT_METRICS, parse_metric
from embedtune.evaluation.report import EvalReport
from embedtune.evaluation.report_html import REPORT_HTML

logger = logging.getLogger(__name__)

_TRAIN_RESULT = "embedtune_train.json"  # training.output_dir.RESULT_FILE, without importing training here


@dataclass
class Comparison:
    """The two evaluations, the BM25 reference, and the report written from them.

    ``base`` and ``base_model`` are None when the model records no base model and none was named:
    the report then shows ``tuned`` (the model) alone.
    """

    base: EvalReport | None
    tuned: EvalReport
    bm25: EvalReport
    base_model: str | None
    facts: dict[str, Any]
    report: Path


def recorded_training(model: str | None) -> dict[str, Any] | None:
    """The ``embedtune_train.json`` a model folder trained by embedtune holds, if any."""
    if model is None or not (path := Path(model) / _TRAIN_RESULT).is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def recorded_base_model(model: str | None) -> str | None:
    """The base model a folder says it was tuned from: its training record, else its embedtune model card."""
    from embedtune.models import display_name

    if (training := recorded_training(model)) is not None:
        return display_name(training.get("config", {}).get("model"))
    card = Path(model) / "README.md" if model is not None else None
    if card is None or not card.is_file():
        return None
    head = card.read_text(encoding="utf-8").split("\n---", 1)[0]  # the YAML front matter
    if "embedtune" not in head:
        return None  # another tool's card: its base_model may mean something else
    for line in head.splitlines():
        if line.startswith("base_model:"):
            return line.split(":", 1)[1].strip() or None
    return None


def compare_with_base(model: str | None, data: str, split: str = "test", *, report_dir: str | Path,
                      base_model: str | None = None, metrics: Sequence[str] = DEFAULT_METRICS,
                      batch_size: int = 32, max_seq_length: int | None = None, cache: EmbeddingCache | None = None,
                      show_progress: bool = False, backend: str = "torch", devices: list[str] | None = None,
                      dims: Sequence[int] | None = None, quantize: Sequence[str] | None = None,
                      overwrite: bool = False, reverse: bool = False) -> Comparison:
    """Evaluate ``model`` and its base on ``data``/``split`` with the same settings; write ``report_dir/report.html``.

    The base is ``base_model`` when given, else the one ``model``'s folder records (a model trained
    by embedtune does); a model with neither (a stock model) is reported alone, since a report of
    its own scores needs no second model. ``quantize`` scores the models' int8/binary embeddings too
    (at each of ``dims``), and the page gets a quality-against-bytes table. ``reverse`` searches the
    other way (``RetrievalSet.swapped``: image to text on image data). Everything is checked before
    any model loads. Data with images gets no BM25 line (it cannot read them).
    """
    from embedtune.data.beir import load_beir
    from embedtune.evaluation.evaluate import evaluate_bm25, evaluate_model
    from embedtune.evaluation.report_html import TOP_DOCUMENTS, build_facts, build_model_facts, write_report
    from embedtune.models import display_name, load_model

    for name in metrics:
        parse_metric(name)
    from embedtune.inference.quantize import parse_quantize

    dims = parse_dims(dims, "dims")
    quantize = parse_quantize(quantize, "quantize")
    base_model = base_model or recorded_base_model(model)
    page = Path(report_dir) / REPORT_HTML
    if page.exists() and not overwrite:
        raise OutputExistsError(f'"{page}" already exists; pass --overwrite to replace it or choose another --report')
    dataset = load_beir(data, split)
    dataset = dataset.swapped() if reverse else dataset
    reports = {}
    roles = (("tuned", model),) if base_model is None else (("base", base_model), ("tuned", model))
    for role, name in roles:
        logger.info("scoring the %s %s on %s split %s", f"{role} model" if base_model else "model",
                    display_name(name), data, split)
        reports[role] = evaluate_model(
            load_model(name, max_seq_length=max_seq_length), dataset, metrics=metrics, batch_size=batch_size,
            cache=cache, show_progress=show_progress, model_name=display_name(name), backend=backend,
            devices=devices, dims=dims, quantize=quantize, keep_top=TOP_DOCUMENTS)
    bm25 = None if dataset.has_images else evaluate_bm25(dataset, metrics=metrics)
    if base_model is None:
        facts = build_model_facts(model=display_name(model), report=reports["tuned"], bm25=bm25)
        return Comparison(base=None, tuned=reports["tuned"], bm25=bm25, base_model=None, facts=facts,
                          report=write_report(report_dir, facts))
    training = recorded_training(model)
    facts = build_facts(model=display_name(model), base_model=display_name(base_model), base=reports["base"],
                        tuned=reports["tuned"], data=dataset, bm25=bm25, training=training,
                        guard=training.get("guard") if training else None, kind="eval")
    return Comparison(base=reports["base"], tuned=reports["tuned"], bm25=bm25, base_model=display_name(base_model),
                      facts=facts, report=write_report(report_dir, facts))
