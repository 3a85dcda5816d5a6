"""The model card (README.md) saved with every trained model: what it is, how it was made, how it scores."""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from embedtune import __version__
from embedtune._io import write_text_atomic

if TYPE_CHECKING:
    from embedtune.training.result import TrainResult

# An absolute path (POSIX, ~, or a Windows drive) not inside a word, a relative path or a URL.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\\~])(?:[A-Za-z]:[\\/]|[/\\~])[^\s`|]*")


def portable(text: str) -> str:
    """``text`` with each absolute path cut to its last part (a folder's name).

    A card travels with the model (to the Hub, to colleagues): the training machine's paths mean
    nothing there, and say whose machine it was. Relative paths and hub ids are kept.
    """
    def name(match: re.Match[str]) -> str:
        return re.split(r"[/\\]", match.group(0).rstrip("/\\"))[-1] or match.group(0)

    return _ABSOLUTE_PATH.sub(name, text)


def model_name(model: str) -> str:
    """What a card calls ``model`` (a hub id or a local folder): a folder by its own name, relative or not,
    since ``runs/base`` in ``base_model:`` would read as the Hub's ``runs/base``."""
    folder = Path(model).expanduser()
    return folder.resolve().name if folder.is_dir() else portable(model)


def base_model_line(base_model: str, base_path: str) -> str:
    """The card's line on the base model: its name, and the Python package that installed its weights, if one did."""
    from embedtune.models import model_package

    package = model_package(base_path)
    installed = f" (weights from the Python package `{package[0]}` {package[1]})" if package else ""
    return f"- base model: `{model_name(base_model)}`{installed}"


def write_model_card(out: Path, result: TrainResult, *, base_model: str, base_path: str,
                     facts: Mapping[str, Any] | None = None) -> None:
    """``out/README.md``; ``base_path`` (where the base weights were loaded from) only names the package
    that installed them, never appears itself."""
    write_text_atomic(out / "README.md", render_model_card(result, base_model=base_model, base_path=base_path,
                                                           facts=facts))


def render_model_card(result: TrainResult, *, base_model: str, base_path: str,
                      facts: Mapping[str, Any] | None = None) -> str:
    """The card; with ``facts`` (``report_html.build_facts``) it carries what report.html shows, as text.

    Paths of the training machine are cut to their last part (see :func:`portable`).
    """
    config = result.config
    bm25 = (facts.get("metrics") or {}).get("bm25") if facts else None
    base_model, model_dir = model_name(base_model), portable(result.model_dir)
    lines = [
        "---",
        "library_name: sentence-transformers",
        f"base_model: {base_model}",
        "pipeline_tag: sentence-similarity",
        "tags: [sentence-transformers, feature-extraction, embedtune]",
        "---",
        "",
        f"# Fine-tuned from {base_model}",
        "",
        f"Made with embedtune {__version__} (`{config['strategy']}` strategy"
        + (", LoRA merged into the weights; the adapter alone is in `adapter/`"
           if config["strategy"] in ("lora", "qlora") else "")
        + ").",
        "",
        "## Use",
        "",
        "```python",
        "from sentence_transformers import SentenceTransformer",
        f'model = SentenceTransformer("{model_dir}")',
        'query_embeddings = model.encode_query(["your question"])  # with the query prompt, if the model has one',
        'document_embeddings = model.encode_document(["a passage"])  # with the document prompt',
        "```",
        "",
        *_matryoshka_note(result),
        "## Data",
        "",
        f"- {portable(result.data)}",
        base_model_line(base_model, base_path),
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {portable(str(v))} |" for k, v in config.items() if k != "model"],
        "",
        "## Results",
        "",
    ]
    if facts:
        lines += [f"**{facts['verdict']}**", "", "`report.html` in this folder shows the same facts with plots.", ""]
    if result.before and result.after:
        lines += [f"Held-out split `{result.heldout_split}` (never used for training or checkpoint choice)"
                  + (", with BM25 on the same split as the lexical reference:" if bm25 else ":"), "",
                  "| metric | base | tuned | change |" + (" BM25 |" if bm25 else ""),
                  "|---|---|---|---|" + ("---|" if bm25 else "")]
        lines += [f"| {m} | {result.before[m]:.4f} | {result.after[m]:.4f} | {result.after[m] - result.before[m]:+.4f} |"
                  + (f" {bm25[m]:.4f} |" if bm25 else "") for m in result.before]
    else:
        lines.append("No held-out split was given, so only dev scores are reported.")
    if facts:
        lines += _query_changes_section(facts) + _dims_section(facts)
    lines += _guard_section(result) + _dev_section(result)
    processes = f", {result.num_processes} processes" if result.num_processes > 1 else ""
    lines += ["", f"Training took {result.train_seconds:.0f} s on {result.num_train_pairs} pairs "
                  f"({result.precision}{processes}).", ""]
    return "\n".join(lines)


def _dev_section(result: TrainResult) -> list[str]:
    """The dev evaluations, with the metric that chose the saved checkpoint."""
    from embedtune.training.dev_evaluator import DIMS_MEAN

    mean_key = f"eval_dev_{DIMS_MEAN}"
    dims_mean = any(mean_key in entry for entry in result.dev_history)
    chosen_by = "dev nDCG@10 averaged over the trained sizes" if dims_mean else "dev nDCG@10"
    lines = ["", f"Dev evaluations (the best one, by {chosen_by}, is the saved model):", "",
             "| step | dev nDCG@10 | dev MRR@10 |" + (" mean over sizes |" if dims_mean else ""),
             "|---|---|---|" + ("---|" if dims_mean else "")]
    for entry in result.dev_history:
        mark = " (saved)" if entry.get("step") == result.best_step else ""
        lines.append(f"| {entry.get('step')}{mark} | {entry.get('eval_dev_ndcg@10', 0):.4f} | "
                     f"{entry.get('eval_dev_mrr@10', 0):.4f} |"
                     + (f" {entry.get(mean_key, 0):.4f} |" if dims_mean else ""))
    return lines


def _guard_section(result: TrainResult) -> list[str]:
    guard = result.guard
    if not guard:
        return []
    lines = ["", f"Forgetting guard on `{portable(guard['data'])}` split `{guard['split']}` (nDCG@10; "
                 f"{guard['guard_dev_queries']} guard-dev queries took part in the choice, "
                 f"{guard['heldout_queries']} held-out ones did not): {guard['decision']}.", "",
             "| model | guard-dev | guard held-out |", "|---|---|---|"]
    saved = "saved" if not guard["interpolated"] else f"saved: alpha {guard['alpha']:g}"
    base = f"base ({model_name(guard['base_model'])})" if guard.get("base_model") else "base"
    for label, key in ((base, "base"), ("tuned", "tuned"), (saved, "chosen")):
        lines.append(f"| {label} | {guard[key]['guard_dev']:.4f} | {guard[key]['heldout']:.4f} |")
    if guard["interpolated"]:
        lines += ["", f"The saved model is that mix, alpha {guard['alpha']:g}; the held-out scores above "
                      "(\"tuned\") are the saved model's."]
    if guard["grid"]:
        lines += ["", "| alpha | domain dev | guard-dev |", "|---|---|---|"]
        lines += [f"| {m['alpha']:g} | {m['domain_dev']:.4f} | {m['guard_dev']:.4f} |" for m in guard["grid"]]
    return lines


def _query_changes_section(facts: Mapping[str, Any]) -> list[str]:
    changes = facts.get("query_changes")
    if not changes:
        return []
    lines = ["", f"Per query ({changes['metric']}): {changes['better']} better, {changes['worse']} worse, "
                 f"{changes['unchanged']} unchanged. Largest moves:", "",
             "| query | base | tuned | change |", "|---|---|---|---|"]
    for entry in changes["largest_gains"] + changes["largest_losses"]:
        query = " ".join(entry["query"].split()).replace("|", "\\|")
        lines.append(f"| {query} | {entry['base']:.4f} | {entry['tuned']:.4f} | {entry['change']:+.4f} |")
    return lines


def _dims_section(facts: Mapping[str, Any]) -> list[str]:
    by_dim = facts.get("by_dim")
    if not by_dim:
        return []
    metric = facts["headline_metric"]
    lines = ["", f"{metric} by embedding size (truncated and re-normalised):", "",
             "| dimensions | bytes per vector (fp32) | base | tuned |", "|---|---|---|---|"]
    for dim in sorted(by_dim["tuned"], key=int, reverse=True):
        base = by_dim["base"].get(dim, {}).get(metric)
        lines.append(f"| {dim} | {4 * int(dim)} | {'–' if base is None else f'{base:.4f}'} | "
                     f"{by_dim['tuned'][dim][metric]:.4f} |")
    return lines


def _matryoshka_note(result: TrainResult) -> list[str]:
    dims = result.config.get("matryoshka_dims")
    if not dims:
        return []
    smallest = min(dims)
    note = (f"Trained for truncation to {', '.join(map(str, dims))} dimensions (Matryoshka): load with "
            f'`SentenceTransformer("{portable(result.model_dir)}", truncate_dim={smallest})` for the smallest; '
            "`embedtune eval --dims` shows the score at each size.")
    rotation = result.matryoshka_rotation
    if rotation and rotation["kept"]:
        dev = rotation["dev_ndcg@10_by_step"]
        moves = ", ".join(f"{dim}: {dev['0'][dim]:.4f} → {dev[str(rotation['step'])][dim]:.4f}"
                          for dim in dev["0"])
        note += (" After training, a rotation of the embedding space (module `2_Dense`, orthogonal, so "
                 f"full-size similarities are unchanged) raised the truncated sizes' dev nDCG@10 ({moves}).")
    return [note, ""]
