"""The evaluation report: one self-contained HTML page, its PNG plots beside it, and its facts as JSON.

``train --out DIR`` and ``eval --report DIR`` (and later ``adapt --out DIR``) call the same two
functions: :func:`build_facts` gathers what a reader needs into a plain JSON-able dict (or
:func:`build_model_facts`, for a model with no base model to compare with), and
:func:`write_report` writes ``DIR/report.json`` (the facts), ``DIR/report-*.png`` (the plots) and
``DIR/report.html`` (the page, plots inlined as data URIs, no external CSS or JS, so it opens
offline and can be mailed as one file). Every number in the page carries a ``data-fact``
attribute naming where it sits in ``report.json``, which is how the tests hold the page to the facts.

Plots need matplotlib (``pip install 'embedtune[report]'``); without it the page keeps its tables
and says how to get the plots, so a finished training never fails for want of a plotting library.
"""
from __future__ import annotations

import base64
import html
import io
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from embedtune import __version__
from embedtune._io import write_bytes_atomic, write_json_atomic, write_text_atomic
from embedtune._optional import require
from embedtune.errors import MissingDependencyError

if TYPE_CHECKING:
    from embedtune.data.types import RetrievalSet
    from embedtune.evaluation.report import EvalReport

logger = logging.getLogger(__name__)

REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
PLOTS = ("report-metrics.png", "report-training.png", "report-queries.png", "report-dims.png",
         "report-bytes.png")
HEADLINE_METRIC = "ndcg@10"
TOP_DOCUMENTS = 10  # ranks kept per query: enough to say where a relevant document moved within the top 10
SHOWN_DOCUMENTS = 3  # documents shown per model for a query that moved
SHOWN_QUERIES = 5  # largest gains and largest losses listed
_TEXT_CHARS = 240  # a document's text is cut to this in the page (the ids are there to look up the rest)
_SAME = 1e-9  # per-query scores closer than this count as unchanged (float sums, not a judgement call)
_BASE_COLOR, _TUNED_COLOR, _BM25_COLOR = "#9aa5b1", "#2563eb", "#d97706"
_COLORS = {"base": _BASE_COLOR, "tuned": _TUNED_COLOR, "model": _TUNED_COLOR}


def build_facts(*, model: str, base_model: str, base: EvalReport | None = None, tuned: EvalReport | None = None,
                data: RetrievalSet | None = None, bm25: EvalReport | None = None,
                training: Mapping[str, Any] | None = None, guard: Mapping[str, Any] | None = None,
                kind: Literal["train", "eval", "adapt"] = "eval", shown: int = SHOWN_QUERIES) -> dict[str, Any]:
    """What the report shows, as a JSON-able dict (saved as ``report.json``).

    ``base`` and ``tuned`` are evaluations of the two models on the same split of ``data``, made
    with ``keep_top=TOP_DOCUMENTS`` so the page can show which documents moved; ``bm25`` is the
    lexical reference on that split. ``training`` is a ``TrainResult.to_dict()`` (or the
    ``embedtune_train.json`` a trained model folder holds): its loss and dev curves are plotted.
    ``guard`` is ``GuardResult.to_dict()``. Any of them may be missing; the page leaves out what
    it has no facts for and says so.
    """
    compared = base is not None and tuned is not None
    if compared and data is not None and not (base.top_documents and tuned.top_documents):
        raise ValueError("build_facts needs each query's top documents: evaluate both models with "
                         "keep_top=TOP_DOCUMENTS")
    headline = HEADLINE_METRIC
    if tuned is not None and headline not in tuned.metrics:
        headline = next(iter(tuned.metrics))
    facts: dict[str, Any] = {
        "embedtune_version": __version__,
        "kind": kind,
        "model": model,
        "base_model": base_model,
        "headline_metric": headline,
        "data": tuned.data if tuned is not None else (data.source if data is not None else ""),
        "split": tuned.split if tuned is not None else "",
        "num_queries": tuned.num_queries if tuned is not None else 0,
        "num_documents": tuned.num_documents if tuned is not None else 0,
        "metrics": {"base": base.metrics, "tuned": tuned.metrics,
                    "change": {m: v - base.metrics[m] for m, v in tuned.metrics.items() if m in base.metrics},
                    "bm25": bm25.metrics if bm25 is not None else None} if compared else None,
        "query_changes": (_query_changes(base, tuned, data, headline, shown)
                          if compared and data is not None else None),
        "training": _training_curves(training) if training else None,
        "guard": dict(guard) if guard else None,
        "by_dim": ({"base": {str(d): m for d, m in base.by_dim.items()},
                    "tuned": {str(d): m for d, m in tuned.by_dim.items()}}
                   if compared and tuned.by_dim else None),
        "operating_points": (_operating_points(base, tuned, headline)
                             if compared and any(p["precision"] != "float32" for p in tuned.operating_points)
                             else None),
    }
    facts["verdict"] = verdict(facts)
    return facts


def build_model_facts(*, model: str, report: EvalReport, bm25: EvalReport | None = None) -> dict[str, Any]:
    """The facts of a report on one model alone, e.g. a stock model that records no base model.

    The layout is :func:`build_facts`' with ``base_model`` None and one score column, ``model``,
    where a comparison has ``base`` and ``tuned``: a reader of report.json never mistakes a stock
    model's scores for a tuned model's, and nothing compares it with a model that was not scored.
    """
    headline = HEADLINE_METRIC if HEADLINE_METRIC in report.metrics else next(iter(report.metrics))
    quantized = any(p["precision"] != "float32" for p in report.operating_points)
    facts: dict[str, Any] = {
        "embedtune_version": __version__,
        "kind": "eval",
        "model": model,
        "base_model": None,
        "headline_metric": headline,
        "data": report.data,
        "split": report.split,
        "num_queries": report.num_queries,
        "num_documents": report.num_documents,
        "metrics": {"model": report.metrics, "bm25": bm25.metrics if bm25 is not None else None},
        "query_changes": None,
        "training": None,
        "guard": None,
        "by_dim": {"model": {str(d): m for d, m in report.by_dim.items()}} if report.by_dim else None,
        "operating_points": ([{"dim": p["dim"], "precision": p["precision"], "bytes_per_vector": p["bytes_per_vector"],
                               "model": p["metrics"][headline]} for p in report.operating_points]
                             if quantized else None),
    }
    facts["verdict"] = verdict(facts)
    return facts


def _models(facts: Mapping[str, Any]) -> tuple[str, ...]:
    """The score columns the facts hold: the model alone, or base and tuned (the one compared last)."""
    return ("model",) if facts.get("base_model") is None else ("base", "tuned")


def _operating_points(base: EvalReport, tuned: EvalReport, metric: str) -> list[dict[str, Any]]:
    """One row per (size, precision) both models were scored at: what a vector costs, what it retrieves.

    Rows keep the tuned model's order (largest size first, float32 before its quantized forms); a
    point the base lacks has ``base: None``.
    """
    base_at = {(p["dim"], p["precision"]): p["metrics"].get(metric) for p in base.operating_points}
    return [{"dim": p["dim"], "precision": p["precision"], "bytes_per_vector": p["bytes_per_vector"],
             "base": base_at.get((p["dim"], p["precision"])), "tuned": p["metrics"][metric]}
            for p in tuned.operating_points]


def write_report(out_dir: str | Path, facts: Mapping[str, Any]) -> Path:
    """Write ``report.json``, the PNG plots and ``report.html`` (last) into ``out_dir``; return the page's path.

    ``facts`` comes from :func:`build_facts`. Each file is written atomically; files of an earlier
    report in ``out_dir`` are replaced (the callers decide whether ``out_dir`` may be written).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = render_plots(facts)
    for name, png in images.items():
        write_bytes_atomic(out / name, png)
    for name in set(PLOTS) - set(images):  # an earlier report's plot this one has no facts for
        (out / name).unlink(missing_ok=True)
    facts = {**facts, "images": sorted(images)}
    write_json_atomic(out / REPORT_JSON, facts)
    page = out / REPORT_HTML
    write_text_atomic(page, render_html(facts, images))
    logger.info("wrote the report to %s (%d plots)", page, len(images))
    return page


def verdict(facts: Mapping[str, Any]) -> str:
    """The line at the top of the page: the headline change, how many queries moved, and the guard."""
    metric = facts["headline_metric"]
    if facts.get("base_model") is None:  # one model: its score, nothing to compare it with
        return (f"{_metric_label(metric)} {facts['metrics']['model'][metric]:.3f} on {facts['num_queries']} "
                f"{facts['split']} queries; no base model to compare with")
    parts = []
    if facts.get("metrics"):
        before, after = facts["metrics"]["base"][metric], facts["metrics"]["tuned"][metric]
        parts.append(f"{_metric_label(metric)} {before:.3f} → {after:.3f} ({after - before:+.3f}) "
                     f"on {facts['num_queries']} {facts['split']} queries")
        if facts.get("query_changes"):
            changes = facts["query_changes"]
            parts.append(f"{changes['better']} queries better, {changes['worse']} worse")
    elif facts.get("training") and facts["training"]["dev"]:
        best = max(facts["training"]["dev"], key=lambda e: e[metric] if metric in e else -1)
        parts.append(f"no held-out split: best dev {_metric_label(metric)} {best.get(metric, 0):.3f} "
                     f"at step {best['step']}")
    parts.append(f"general-domain guard: {guard_verdict(facts.get('guard'))}")
    return "; ".join(parts)


def guard_verdict(guard: Mapping[str, Any] | None) -> str:
    """Forgetting, judged on the guard's held-out half (the half that took no part in choosing the weights)."""
    if not guard:
        return "not run"
    change = guard["chosen"]["heldout"] - guard["base"]["heldout"]
    mixed = f"weights mixed back towards the base (alpha {guard['alpha']:g}), " if guard["interpolated"] else ""
    if change >= -guard["threshold"] - _SAME:
        return f"{mixed}no forgetting ({change:+.3f})"
    return f"{mixed}forgetting ({change:+.3f}, more than the {guard['threshold']:g} allowed)"


def _query_changes(base: EvalReport, tuned: EvalReport, data: RetrievalSet, metric: str,
                   shown: int) -> dict[str, Any]:
    """How many queries got better or worse on ``metric``, and the largest moves with their documents."""
    deltas = {q: tuned.per_query[q][metric] - base.per_query[q][metric]
              for q in tuned.per_query if q in base.per_query}
    # largest first; ties by query id so the listing does not depend on dict order
    order = sorted(deltas, key=lambda q: (-abs(deltas[q]), q))
    gains = [q for q in order if deltas[q] > _SAME][:shown]
    losses = [q for q in order if deltas[q] < -_SAME][:shown]

    def entry(qid: str) -> dict[str, Any]:
        relevant = data.positives(qid)
        base_top, tuned_top = base.top_documents.get(qid, []), tuned.top_documents.get(qid, [])
        return {
            "query_id": qid, "query": data.queries.get(qid, ""),
            "base": base.per_query[qid][metric], "tuned": tuned.per_query[qid][metric], "change": deltas[qid],
            "relevant": [{"id": d, "text": _cut(data.corpus.get(d, "")), "base_rank": _rank_of(d, base_top),
                          "tuned_rank": _rank_of(d, tuned_top)} for d in relevant],
            "base_top": [{"id": d, "text": _cut(data.corpus.get(d, "")), "relevant": d in relevant}
                         for d in base_top[:SHOWN_DOCUMENTS]],
            "tuned_top": [{"id": d, "text": _cut(data.corpus.get(d, "")), "relevant": d in relevant}
                          for d in tuned_top[:SHOWN_DOCUMENTS]],
        }

    return {
        "metric": metric,
        "better": sum(d > _SAME for d in deltas.values()),
        "worse": sum(d < -_SAME for d in deltas.values()),
        "unchanged": sum(abs(d) <= _SAME for d in deltas.values()),
        "deltas": sorted(deltas.values()),  # for the plot of every query's change
        "largest_gains": [entry(q) for q in gains],
        "largest_losses": [entry(q) for q in losses],
    }


def _training_curves(training: Mapping[str, Any]) -> dict[str, Any]:
    dev = [{"step": e["step"], **{k.removeprefix("eval_dev_"): v for k, v in e.items()
                                   if k.startswith("eval_dev_") and isinstance(v, (int, float))}}
           for e in training.get("dev_history", []) if "step" in e]
    return {"loss": [{"step": e["step"], "loss": e["loss"]} for e in training.get("loss_history", [])],
            "dev": dev, "best_step": training.get("best_step"),
            "train_seconds": training.get("train_seconds"), "num_train_pairs": training.get("num_train_pairs"),
            "recipe": _recipe_facts(training.get("recipe"))}


def _recipe_facts(recipe: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``--recipe auto``'s choice and each candidate's dev score, spread and interval against the best."""
    if not recipe:
        return None
    keys = ("name", "dev_ndcg", "dev_spread", "diff_low", "diff_high", "guard_dev", "eligible", "note", "seconds")
    return {"chosen": recipe["chosen"], "rule": recipe["rule"], "seconds": recipe["seconds"],
            "dev_queries": recipe["dev_queries"], "candidates": [{k: c.get(k) for k in keys}
                                                                 for c in recipe["candidates"]],
            "skipped": dict(recipe.get("extra", {}).get("skipped", {})), "continued": recipe.get("continued"),
            "extended": recipe.get("extended")}


def _rank_of(doc_id: str, ranking: Sequence[str]) -> int | None:
    return ranking.index(doc_id) + 1 if doc_id in ranking else None


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT_CHARS else text[:_TEXT_CHARS].rstrip() + "…"


def _metric_label(metric: str) -> str:
    kind, _, k = metric.partition("@")
    names = {"ndcg": "nDCG", "mrr": "MRR", "map": "MAP", "recall": "Recall", "precision": "P"}
    return f"{names.get(kind, kind)}@{k}" if k else metric


# ---- plots ---------------------------------------------------------------------------------------

def render_plots(facts: Mapping[str, Any]) -> dict[str, bytes]:
    """File name → PNG bytes for each plot the facts allow; empty without matplotlib."""
    try:  # Figure needs no pyplot and no global backend
        require("matplotlib.figure", "report", "plotting the report")
    except MissingDependencyError as exc:  # the tables alone are still worth writing, after a long run
        logger.warning("%s (the report keeps its tables)", exc)
        return {}
    metrics, training, queries, dims, sizes = PLOTS
    plots = {}
    if facts.get("metrics"):
        plots[metrics] = _metrics_plot(facts)
    if facts.get("training") and (facts["training"]["loss"] or facts["training"]["dev"]):
        plots[training] = _training_plot(facts)
    if facts.get("query_changes") and facts["query_changes"]["deltas"]:
        plots[queries] = _queries_plot(facts)
    if facts.get("by_dim"):
        plots[dims] = _dims_plot(facts)
    if facts.get("operating_points"):
        plots[sizes] = _bytes_plot(facts)
    return plots


def _figure(width: float, height: float, columns: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = figure.subplots(1, columns)
    for ax in (axes if columns > 1 else [axes]):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        ax.set_axisbelow(True)
    return figure, axes


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def _metrics_plot(facts: Mapping[str, Any]) -> bytes:
    metrics = facts["metrics"]
    models = _models(facts)
    names = list(metrics["change"] if "change" in metrics else metrics["model"])
    figure, ax = _figure(max(6.0, 0.75 * len(names) + 1.5), 3.6)
    width = 0.76 / len(models)
    xs = range(len(names))
    for i, key in enumerate(models):
        offset = (i - (len(models) - 1) / 2) * width
        ax.bar([x + offset for x in xs], [metrics[key][m] for m in names], width, label=key, color=_COLORS[key])
    if metrics.get("bm25"):
        for i, m in enumerate(names):
            ax.hlines(metrics["bm25"][m], i - 0.45, i + 0.45, colors=_BM25_COLOR, linewidth=2,
                      label="BM25" if i == 0 else None)
    ax.set_xticks(list(xs), [_metric_label(m) for m in names], rotation=45, ha="right")
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("score")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    ax.set_title(f"{facts['data']} · {facts['split']} · {facts['num_queries']} queries", fontsize=10)
    return _png(figure)


def _training_plot(facts: Mapping[str, Any]) -> bytes:
    training, metric = facts["training"], facts["headline_metric"]
    figure, (loss_ax, dev_ax) = _figure(10.0, 3.2, columns=2)
    if training["loss"]:
        loss_ax.plot([e["step"] for e in training["loss"]], [e["loss"] for e in training["loss"]],
                     color=_TUNED_COLOR, marker="." if len(training["loss"]) < 30 else None)
    loss_ax.set_title("training loss", fontsize=10)
    loss_ax.set_xlabel("step")
    from matplotlib.ticker import MaxNLocator

    for ax in (loss_ax, dev_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    dev = [e for e in training["dev"] if metric in e]
    if dev:
        dev_ax.plot([e["step"] for e in dev], [e[metric] for e in dev], color=_TUNED_COLOR, marker="o")
        best = next((e for e in dev if e["step"] == training.get("best_step")), None)
        if best is not None:
            dev_ax.scatter([best["step"]], [best[metric]], s=120, facecolors="none", edgecolors=_BM25_COLOR,
                           linewidths=2, label=f"saved (step {best['step']})", zorder=3)
            dev_ax.legend(frameon=False, fontsize=9, loc="lower right")
    dev_ax.set_title(f"dev {_metric_label(metric)}", fontsize=10)
    dev_ax.set_xlabel("step")
    steps = [e["step"] for e in training["loss"]] + [e["step"] for e in dev]
    if steps:  # one step axis for both, so a lone dev point sits where it happened in the training
        pad = max(0.5, (max(steps) - min(steps)) * 0.04)
        for ax in (loss_ax, dev_ax):
            ax.set_xlim(min(steps) - pad, max(steps) + pad)
    return _png(figure)


def _queries_plot(facts: Mapping[str, Any]) -> bytes:
    changes = facts["query_changes"]
    deltas = changes["deltas"]
    figure, ax = _figure(10.0, 2.8)
    colors = ["#dc2626" if d < -_SAME else "#16a34a" if d > _SAME else _BASE_COLOR for d in deltas]
    ax.bar(range(len(deltas)), deltas, width=1.0, color=colors)
    ax.axhline(0, color="#374151", linewidth=0.8)
    ax.set_xlim(-0.5, len(deltas) - 0.5)
    ax.set_xticks([])
    ax.set_xlabel(f"{len(deltas)} queries, sorted by change")
    ax.set_ylabel(f"Δ {_metric_label(changes['metric'])}")
    ax.set_title(f"{changes['better']} better · {changes['unchanged']} unchanged · {changes['worse']} worse",
                 fontsize=10)
    return _png(figure)


def _dims_plot(facts: Mapping[str, Any]) -> bytes:
    metric, by_dim = facts["headline_metric"], facts["by_dim"]
    figure, ax = _figure(6.5, 3.4)
    models = _models(facts)
    for label in models:
        dims = sorted(int(d) for d in by_dim[label])
        ax.plot(dims, [by_dim[label][str(d)][metric] for d in dims], marker="o", color=_COLORS[label], label=label)
    dims = sorted(int(d) for d in by_dim[models[-1]])
    ax.set_xscale("log", base=2)
    ax.set_xticks(dims, [f"{d}\n{_bytes(d)}" for d in dims])
    ax.minorticks_off()
    ax.set_xlabel("dimensions / fp32 bytes per vector")
    ax.set_ylabel(_metric_label(metric))
    ax.legend(frameon=False, fontsize=9)
    return _png(figure)


_PRECISION_MARKERS = {"float32": "o", "int8": "s", "binary": "^"}


def _bytes_plot(facts: Mapping[str, Any]) -> bytes:
    """Quality against storage per vector: one line per precision, tuned (or the model alone) solid, base dashed."""
    metric, points = facts["headline_metric"], facts["operating_points"]
    shown = _models(facts)[-1]
    figure, ax = _figure(8.0, 3.8)
    precisions = list(dict.fromkeys(p["precision"] for p in points))
    for precision in precisions:
        rows = sorted((p for p in points if p["precision"] == precision), key=lambda p: p["bytes_per_vector"])
        marker = _PRECISION_MARKERS.get(precision, "o")
        xs = [p["bytes_per_vector"] for p in rows]
        ax.plot(xs, [p[shown] for p in rows], marker=marker, color=_TUNED_COLOR,
                label=f"{shown} {precision}", alpha=1.0 if precision == "float32" else 0.75)
        if shown == "tuned" and all(p["base"] is not None for p in rows):
            ax.plot(xs, [p["base"] for p in rows], marker=marker, color=_BASE_COLOR, linestyle="--",
                    label=f"base {precision}")
    ticks = sorted({p["bytes_per_vector"] for p in points})
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [_size(b) for b in ticks], fontsize=8, rotation=45, ha="right")
    ax.minorticks_off()
    ax.set_xlabel("bytes per vector")
    ax.set_ylabel(_metric_label(metric))
    ax.legend(frameon=False, fontsize=8, ncol=2)
    return _png(figure)


def _bytes(dim: int) -> str:
    return _size(4 * dim)  # float32


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:g} KiB"


# ---- page -----------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:#111827;background:#f9fafb;margin:0}
main{max-width:1080px;margin:0 auto;padding:24px 28px 60px;background:#fff;min-height:100vh}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #e5e7eb;
 padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.sub{color:#6b7280;margin:0 0 16px}
.verdict{font-size:17px;font-weight:600;padding:12px 16px;border-radius:6px;border-left:6px solid #6b7280;
 background:#f3f4f6}
.verdict.up{border-color:#16a34a;background:#f0fdf4}.verdict.down{border-color:#dc2626;background:#fef2f2}
table{border-collapse:collapse;margin:8px 0 12px;font-size:14px}
th,td{padding:5px 12px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600;font-family:inherit}tbody tr:nth-child(even){background:#fafafa}
th.n{text-align:right}td.n{text-align:right;font-variant-numeric:tabular-nums;
 font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
.pos{color:#15803d}.neg{color:#b91c1c}.muted{color:#6b7280}
img{max-width:100%;height:auto;display:block;margin:8px 0}
.query{border:1px solid #e5e7eb;border-radius:6px;padding:10px 14px;margin:10px 0}
.query .q{font-weight:600}.docs{display:grid;grid-template-columns:1fr 1fr;gap:14px}
.docs ol{margin:4px 0;padding-left:22px;font-size:13px}.docs li{margin:3px 0}
.rel{background:#dcfce7;border-radius:3px;padding:0 3px}
.id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;color:#6b7280;font-size:12px}
"""


def render_html(facts: Mapping[str, Any], images: Mapping[str, bytes]) -> str:
    """The page: verdict, metrics, training curves, per-query moves, guard, sizes; user text escaped."""
    e = html.escape
    tone = ""
    single = facts.get("base_model") is None
    if facts.get("metrics") and not single:
        metric = facts["headline_metric"]
        change = facts["metrics"]["tuned"][metric] - facts["metrics"]["base"][metric]
        tone = " up" if change > _SAME else " down" if change < -_SAME else ""
    title = f"embedtune report: {facts['model']}"
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{e(facts['model'])}</h1>",
        '<p class="sub">' + ("scored" if single else f"compared with its base model <b>{e(facts['base_model'])}</b>")
        + (f" on {e(facts['data'])} (split {e(facts['split'])}, {facts['num_queries']} queries, "
           f"{facts['num_documents']} documents)" if facts.get("metrics") else "")
        + f" · embedtune {e(facts['embedtune_version'])}</p>",
        f'<p class="verdict{tone}" id="verdict">{e(facts["verdict"])}</p>',
    ]
    if not images:
        parts.append('<p class="muted">No plots: matplotlib is not installed '
                     "(<code>pip install 'embedtune[report]'</code>).</p>")
    parts += _metrics_section(facts, images)
    parts += _training_section(facts, images)
    parts += _queries_section(facts, images)
    if not single:  # the guard is part of a training; a model scored alone had none
        parts += _guard_section(facts)
    parts += _dims_section(facts, images)
    parts += _bytes_section(facts, images)
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _img(images: Mapping[str, bytes], name: str, alt: str) -> list[str]:
    if name not in images:
        return []
    data = base64.b64encode(images[name]).decode("ascii")
    return [f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" data-file="{name}">']


def _num(path: str, value: float | None, fmt: str = ".4f", signed: bool = False) -> str:
    """A table cell holding one fact; ``data-fact`` is its path in report.json."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '<td class="n muted">–</td>'
    text = format(value, "+" + fmt if signed else fmt)
    tone = (" pos" if value > _SAME else " neg" if value < -_SAME else "") if signed else ""
    return f'<td class="n{tone}" data-fact="{html.escape(path)}">{text}</td>'


def _metrics_section(facts: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    if facts.get("base_model") is None:
        return _model_metrics_section(facts, images)
    parts = ["<h2>Scores: base vs tuned</h2>"]
    metrics = facts.get("metrics")
    if not metrics:
        return parts + ['<p class="muted">No held-out split was scored, so there is no before/after '
                        "comparison; the training curves below show the dev scores.</p>"]
    parts += _img(images, "report-metrics.png", "bar chart of each metric, base vs tuned, BM25 as a line")
    bm25 = metrics.get("bm25")
    parts.append('<table><thead><tr><th>metric</th><th class="n">base</th><th class="n">tuned</th>'
                 '<th class="n">change</th>' + ('<th class="n">BM25</th>' if bm25 else "") + "</tr></thead><tbody>")
    for m, change in metrics["change"].items():
        parts.append(f"<tr><td>{html.escape(_metric_label(m))}</td>{_num(f'metrics.base.{m}', metrics['base'][m])}"
                     f"{_num(f'metrics.tuned.{m}', metrics['tuned'][m])}{_num(f'metrics.change.{m}', change, signed=True)}"
                     + (_num(f"metrics.bm25.{m}", bm25.get(m)) if bm25 else "") + "</tr>")
    parts.append("</tbody></table>")
    return parts + _bm25_note(bm25)


def _bm25_note(bm25: Mapping[str, Any] | None) -> list[str]:
    return ['<p class="muted">BM25: bm25s with English stop words on the same split, '
            "the lexical baseline a dense model should beat.</p>"] if bm25 else []


def _model_metrics_section(facts: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    """One model's scores, next to BM25's: there is no base column and no change to show."""
    metrics = facts["metrics"]
    bm25 = metrics.get("bm25")
    parts = ["<h2>Scores</h2>"]
    parts += _img(images, "report-metrics.png", "bar chart of each metric, BM25 as a line")
    parts.append('<table><thead><tr><th>metric</th><th class="n">model</th>'
                 + ('<th class="n">BM25</th>' if bm25 else "") + "</tr></thead><tbody>")
    for m, value in metrics["model"].items():
        parts.append(f"<tr><td>{html.escape(_metric_label(m))}</td>{_num(f'metrics.model.{m}', value)}"
                     + (_num(f"metrics.bm25.{m}", bm25.get(m)) if bm25 else "") + "</tr>")
    parts.append("</tbody></table>")
    return parts + _bm25_note(bm25)


def _training_section(facts: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    training = facts.get("training")
    if not training:
        return []
    metric = facts["headline_metric"]
    parts = ["<h2>Training</h2>"]
    parts += _img(images, "report-training.png", "training loss and dev score over steps")
    dev = training["dev"]
    if dev:
        parts.append('<table><thead><tr><th class="n">step</th>'
                     f'<th class="n">dev {html.escape(_metric_label(metric))}</th><th></th></tr></thead><tbody>')
        for i, entry in enumerate(dev):
            saved = "saved" if entry["step"] == training.get("best_step") else ""
            parts.append(f'<tr><td class="n" data-fact="training.dev.{i}.step">{entry["step"]}</td>'
                         f"{_num(f'training.dev.{i}.{metric}', entry.get(metric))}<td>{saved}</td></tr>")
        parts.append("</tbody></table>")
    details = []
    if training.get("num_train_pairs"):
        details.append(f"{training['num_train_pairs']} training pairs")
    if training.get("train_seconds") is not None:
        details.append(f"{training['train_seconds']:.0f} s of training")
    if training.get("best_step") is not None:
        details.append(f"the checkpoint with the best dev {_metric_label(metric)} (step {training['best_step']}) "
                       "is the saved model")
    if details:
        parts.append(f"<p>{html.escape('; '.join(details))}.</p>")
    return parts + _recipe_table(training.get("recipe"))


def _recipe_table(recipe: Mapping[str, Any] | None) -> list[str]:
    if not recipe:
        return []
    parts = [f"<h3>Recipe, chosen on {recipe['dev_queries']} dev queries ({recipe['seconds']:.0f} s of search)</h3>",
             '<table><thead><tr><th>candidate</th><th class="n">dev nDCG@10</th><th class="n">± (bootstrap)</th>'
             '<th class="n">vs best</th><th></th></tr></thead><tbody>']
    for i, c in enumerate(recipe["candidates"]):
        chosen = "chosen" if c["name"] == recipe["chosen"] else html.escape(c.get("note") or "")
        parts.append(f"<tr><td>{html.escape(c['name'])}</td>{_num(f'training.recipe.candidates.{i}.dev_ndcg', c['dev_ndcg'])}"
                     f"{_num(f'training.recipe.candidates.{i}.dev_spread', c['dev_spread'])}"
                     f'<td class="n">[{c["diff_low"]:+.4f}, {c["diff_high"]:+.4f}]</td><td>{chosen}</td></tr>')
    for name, reason in recipe["skipped"].items():
        parts.append(f'<tr><td>{html.escape(name)}</td><td></td><td></td><td></td><td>skipped: '
                     f"{html.escape(reason)}</td></tr>")
    parts.append(f'</tbody></table><p class="muted">{html.escape(recipe["rule"])}.</p>')
    return parts + _continuation_note(recipe.get("continued")) + _extension_note(recipe.get("extended"))


def _continuation_note(continued: Mapping[str, Any] | None) -> list[str]:
    """The second look (``training.continuation``): which two runs were trained on, and which was kept."""
    if not continued:
        return []
    return [f"<p>{html.escape(continued['first_choice'])} never beat its first epoch on dev, so "
            f"{html.escape(continued['runner_up'])} was trained on from its own first epoch too "
            f"({continued['seconds']:.0f} s): best dev nDCG@10 {continued['first_choice_best_dev']:.4f} vs "
            f"{continued['runner_up_best_dev']:.4f}; kept <b>{html.escape(continued['kept'])}</b>.</p>"]


def _extension_note(extended: Mapping[str, Any] | None) -> list[str]:
    """The last look (``training.extension``): how far the run trained on, and whose weights were kept."""
    if not extended:
        return []
    after = extended["best_dev_after"]
    kept = "the extension's best checkpoint" if extended["kept"] else "the run's own weights"
    return [f"<p>Dev nDCG@10 still rose at the run's last evaluation ({extended['best_dev_before']:.4f}), so it "
            f"trained on for {extended['epochs_run']:g} more epoch{'' if extended['epochs_run'] == 1 else 's'} "
            f"({extended['seconds']:.0f} s), best dev "
            f"{'none' if after is None else f'{after:.4f}'}; kept <b>{kept}</b>.</p>"]


def _queries_section(facts: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    changes = facts.get("query_changes")
    if not changes:
        return []
    label = html.escape(_metric_label(changes["metric"]))
    total = changes["better"] + changes["worse"] + changes["unchanged"]
    parts = ["<h2>Per-query wins and losses</h2>",
             f'<p><b class="pos" data-fact="query_changes.better">{changes["better"]}</b> of {total} queries got '
             f'better on {label}, <b class="neg" data-fact="query_changes.worse">{changes["worse"]}</b> worse, '
             f'<span data-fact="query_changes.unchanged">{changes["unchanged"]}</span> unchanged.</p>']
    parts += _img(images, "report-queries.png", "every query's change, sorted")
    for key, heading in (("largest_gains", "Largest gains"), ("largest_losses", "Largest losses")):
        entries = changes[key]
        parts.append(f"<h3>{heading}</h3>")
        if not entries:
            parts.append('<p class="muted">none</p>')
        for i, entry in enumerate(entries):
            parts += _query_card(f"query_changes.{key}.{i}", entry, label)
    return parts


def _query_card(path: str, entry: Mapping[str, Any], label: str) -> list[str]:
    e = html.escape
    change_class = "pos" if entry["change"] > 0 else "neg"
    parts = ['<div class="query">',
             f'<div><span class="q">{e(entry["query"])}</span> <span class="id">{e(entry["query_id"])}</span></div>',
             f'<div>{label} <span data-fact="{path}.base">{entry["base"]:.4f}</span> → '
             f'<span data-fact="{path}.tuned">{entry["tuned"]:.4f}</span> '
             f'(<span class="{change_class}" data-fact="{path}.change">{entry["change"]:+.4f}</span>)</div>']
    if entry["relevant"]:
        moves = ", ".join(f'<span class="id">{e(d["id"])}</span> rank {_rank_text(d["base_rank"])} → '
                          f"{_rank_text(d['tuned_rank'])}" for d in entry["relevant"])
        parts.append(f"<div>relevant: {moves}</div>")
    parts.append('<div class="docs">')
    for side, heading in (("base_top", "base model's top documents"), ("tuned_top", "tuned model's top documents")):
        items = "".join(f'<li><span class="{"rel" if d["relevant"] else ""}">{e(d["text"])}</span> '
                        f'<span class="id">{e(d["id"])}{" ✓ relevant" if d["relevant"] else ""}</span></li>'
                        for d in entry[side])
        parts.append(f"<div><b>{heading}</b><ol>{items}</ol></div>")
    parts += ["</div>", "</div>"]
    return parts


def _rank_text(rank: int | None) -> str:
    return str(rank) if rank is not None else f"&gt;{TOP_DOCUMENTS}"


def _guard_section(facts: Mapping[str, Any]) -> list[str]:
    guard = facts.get("guard")
    parts = ["<h2>General-domain guard (forgetting)</h2>"]
    if not guard:
        return parts + ['<p class="muted">Not run: <code>embedtune train --guard-data DIR</code> scores a '
                        "general-domain set after training and mixes the weights back if it dropped.</p>"]
    e = html.escape
    parts += [f"<p><b>Verdict: {e(guard_verdict(guard))}</b> nDCG@10 on {e(guard['data'])} split "
              f"{e(guard['split'])}: {guard['heldout_queries']} held-out queries judge forgetting, "
              f"{guard['guard_dev_queries']} guard-dev queries took part in choosing the weights.</p>",
              '<table><thead><tr><th>model</th><th class="n">guard-dev</th><th class="n">guard held-out</th>'
              "</tr></thead><tbody>"]
    saved = "saved (tuned)" if not guard["interpolated"] else f"saved (mix, alpha {guard['alpha']:g})"
    for label, key in (("base", "base"), ("tuned", "tuned"), (saved, "chosen")):
        parts.append(f"<tr><td>{e(label)}</td>{_num(f'guard.{key}.guard_dev', guard[key]['guard_dev'])}"
                     f"{_num(f'guard.{key}.heldout', guard[key]['heldout'])}</tr>")
    parts += ["</tbody></table>", f'<p class="muted">{e(guard["decision"])}</p>']
    return parts


def _dims_section(facts: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    by_dim = facts.get("by_dim")
    if not by_dim:
        return []
    metric = facts["headline_metric"]
    label = html.escape(_metric_label(metric))
    parts = ["<h2>Quality against size (Matryoshka truncation)</h2>"]
    parts += _img(images, "report-dims.png", "score against embedding dimensions")
    models = _models(facts)
    parts.append('<table><thead><tr><th class="n">dimensions</th><th class="n">bytes per vector (fp32)</th>'
                 + "".join(f'<th class="n">{key} {label}</th>' for key in models) + "</tr></thead><tbody>")
    for dim in sorted(by_dim[models[-1]], key=int, reverse=True):
        parts.append(f'<tr><td class="n">{dim}</td><td class="n">{4 * int(dim)}</td>'
                     + "".join(_num(f"by_dim.{key}.{dim}.{metric}", by_dim[key].get(dim, {}).get(metric))
                               for key in models) + "</tr>")
    parts.append("</tbody></table>")
    parts.append('<p class="muted">Embeddings cut to their first N dimensions and re-normalised.</p>')
    return parts


def _bytes_section(facts: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    """The operating points table: a user picks a size and precision from it."""
    points = facts.get("operating_points")
    if not points:
        return []
    label = html.escape(_metric_label(facts["headline_metric"]))
    parts = ["<h2>Quality against bytes per vector (quantized embeddings)</h2>"]
    parts += _img(images, "report-bytes.png", "score against bytes per vector")
    models = _models(facts)
    parts.append('<table><thead><tr><th class="n">dimensions</th><th>precision</th>'
                 '<th class="n">bytes per vector</th>'
                 + "".join(f'<th class="n">{key} {label}</th>' for key in models) + "</tr></thead><tbody>")
    for i, point in enumerate(points):
        parts.append(f'<tr><td class="n">{point["dim"]}</td><td>{html.escape(point["precision"])}</td>'
                     f"{_num(f'operating_points.{i}.bytes_per_vector', point['bytes_per_vector'], 'd')}"
                     + "".join(_num(f"operating_points.{i}.{key}", point[key]) for key in models) + "</tr>")
    parts.append("</tbody></table>")
    parts.append('<p class="muted">int8: documents stored as 1 byte per dimension (per-dimension range over the '
                 "corpus), float queries; binary: 1 bit per dimension, ranked by Hamming distance; smaller sizes "
                 "are truncated and re-normalised first.</p>")
    return parts
