"""``embedtune export``: write a model as a sentence-transformers folder, a peft adapter or ONNX."""
from __future__ import annotations

import json

import click

from embedtune.cli._options import quiet_option, setup_output
from embedtune.export.export import FORMATS


@click.command("export")
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="st: sentence-transformers folder; adapter: the LoRA adapter kept by train --strategy lora "
                   "(peft); onnx / onnx-int8: one ONNX graph giving finished embeddings, plus the tokenizer "
                   "(ONNX Runtime, no torch).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Folder to write.")
@click.option("--eval-data", type=click.Path(), default=None,
              help="BEIR folder: also score nDCG@10 of the source and of the export (the cost of int8).")
@click.option("--eval-split", default="test", show_default=True, help="The --eval-data split to score.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in --out (only a folder embedtune made, holding only its files).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@quiet_option
def export_command(model: str, fmt: str, out: str, eval_data: str | None, eval_split: str, overwrite: bool,
                   as_json: bool, quiet: bool) -> None:
    """Export MODEL (a folder or hub id) in the form its consumer loads unchanged.

    The export is loaded back as its user would load it and compared with MODEL on probe texts;
    the smallest cosine is printed (1.000000 for st, onnx and adapter; lower for onnx-int8).

    \b
    Examples:
      embedtune export runs/scifact --format st --out dist/scifact-st
      embedtune export runs/lora --format adapter --out dist/lora-adapter
      embedtune export runs/scifact --format onnx --out dist/scifact-onnx
      embedtune export runs/scifact --format onnx-int8 --out dist/int8 --eval-data ../shared/data/scifact
    """
    from embedtune.export import export_model

    setup_output(quiet or as_json)
    result = export_model(model, fmt, out, overwrite=overwrite, eval_data=eval_data,  # type: ignore[arg-type]
                          eval_split=eval_split)
    click.echo(json.dumps(result.to_dict(), indent=2) if as_json else result.to_table())
