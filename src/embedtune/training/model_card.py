"""The model card (README.md) saved with every trained model: what it is, how it was made, how it scores."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from embedtune import __version__
from embedtune._io import write_text_atomic

if TYPE_CHECKING:
    from embedtune.training.train import TrainResult


def write_model_card(out: Path, result: TrainResult, *, base_model: str, base_path: str) -> None:
    write_text_atomic(out / "README.md", render_model_card(result, base_model=base_model, base_path=base_path))


def render_model_card(result: TrainResult, *, base_model: str, base_path: str) -> str:
    config = result.config
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
        f'model = SentenceTransformer("{result.model_dir}")',
        'query_embeddings = model.encode_query(["your question"])  # with the query prompt, if the model has one',
        'document_embeddings = model.encode_document(["a passage"])  # with the document prompt',
        "```",
        "",
        *_matryoshka_note(result),
        "## Data",
        "",
        f"- {result.data}",
        f"- base model weights: `{base_path}`",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in config.items() if k != "model"],
        "",
        "## Results",
        "",
    ]
    if result.before and result.after:
        lines += [f"Held-out split `{result.heldout_split}` (never used for training or checkpoint choice):", "",
                  "| metric | base | tuned | change |", "|---|---|---|---|"]
        lines += [f"| {m} | {result.before[m]:.4f} | {result.after[m]:.4f} | {result.after[m] - result.before[m]:+.4f} |"
                  for m in result.before]
    else:
        lines.append("No held-out split was given, so only dev scores are reported.")
    lines += _guard_section(result)
    lines += ["", "Dev evaluations (the best one, by dev nDCG@10, is the saved model):", "",
              "| step | dev nDCG@10 | dev MRR@10 |", "|---|---|---|"]
    for entry in result.dev_history:
        mark = " (saved)" if entry.get("step") == result.best_step else ""
        lines.append(f"| {entry.get('step')}{mark} | {entry.get('eval_dev_ndcg@10', 0):.4f} | "
                     f"{entry.get('eval_dev_mrr@10', 0):.4f} |")
    processes = f", {result.num_processes} processes" if result.num_processes > 1 else ""
    lines += ["", f"Training took {result.train_seconds:.0f} s on {result.num_train_pairs} pairs "
                  f"({result.precision}{processes}).", ""]
    return "\n".join(lines)


def _guard_section(result: TrainResult) -> list[str]:
    guard = result.guard
    if not guard:
        return []
    lines = ["", f"Forgetting guard on `{guard['data']}` split `{guard['split']}` (nDCG@10; "
                 f"{guard['guard_dev_queries']} guard-dev queries took part in the choice, "
                 f"{guard['heldout_queries']} held-out ones did not): {guard['decision']}.", "",
             "| model | guard-dev | guard held-out |", "|---|---|---|"]
    saved = "saved" if not guard["interpolated"] else f"saved: alpha {guard['alpha']:g}"
    for label, key in (("base", "base"), ("tuned", "tuned"), (saved, "chosen")):
        lines.append(f"| {label} | {guard[key]['guard_dev']:.4f} | {guard[key]['heldout']:.4f} |")
    if guard["interpolated"]:
        lines += ["", f"The saved model is that mix, alpha {guard['alpha']:g}; the held-out scores above "
                      "(\"tuned\") are the saved model's."]
    if guard["grid"]:
        lines += ["", "| alpha | domain dev | guard-dev |", "|---|---|---|"]
        lines += [f"| {m['alpha']:g} | {m['domain_dev']:.4f} | {m['guard_dev']:.4f} |" for m in guard["grid"]]
    return lines


def _matryoshka_note(result: TrainResult) -> list[str]:
    dims = result.config.get("matryoshka_dims")
    if not dims:
        return []
    smallest = min(dims)
    return [f"Trained for truncation to {', '.join(map(str, dims))} dimensions (Matryoshka): load with "
            f'`SentenceTransformer("{result.model_dir}", truncate_dim={smallest})` for the smallest; '
            "`embedtune eval --dims` shows the score at each size.", ""]
