"""``embedtune export``: write a model as a sentence-transformers folder, a peft adapter, ONNX or OpenVINO."""
from __future__ import annotations

import click

from embedtune.cli._options import (
    check_json_target,
    emit_json,
    given_model,
    json_option,
    model_argument,
    quiet_option,
    setup_output,
)
from embedtune.export.export import FORMATS


@click.command("export")
@model_argument("The model to export (folder or hub id); the same as the positional MODEL.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True,
              help="st: sentence-transformers folder; adapter: the LoRA adapter kept by train --strategy lora "
                   "(peft); onnx / onnx-int8: one ONNX graph giving finished embeddings, plus the tokenizer "
                   "(ONNX Runtime, no torch); openvino / openvino-int8: a sentence-transformers folder with "
                   "the transformer in OpenVINO under openvino/ (int8: static, calibrated on your documents).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Folder to write.")
@click.option("--eval-data", type=click.Path(), default=None,
              help="BEIR folder: also score nDCG@10 of the source and of the export (the cost of int8).")
@click.option("--eval-split", default="test", show_default=True, help="The --eval-data split to score.")
@click.option("--calibration-data", type=click.Path(), default=None,
              help="openvino-int8: a BEIR folder or corpus .jsonl whose documents calibrate the int8 "
                   "activations (300 spread over it) [default: --eval-data].")
@click.option("--overwrite", is_flag=True, help="Replace an earlier export in --out (only a folder embedtune made, holding only its files).")
@json_option("the result")
@quiet_option
def export_command(model: str | None, model_flag: str | None, fmt: str, out: str, eval_data: str | None,
                   eval_split: str, calibration_data: str | None, overwrite: bool, json_target: str | None, quiet: bool) -> None:
    """Export MODEL (a folder or hub id) in the form its consumer loads unchanged.

    The export is loaded back as its user would load it and compared with MODEL on probe texts;
    the smallest cosine is printed (1.000000 for st, onnx, openvino and adapter; lower for the int8 formats).

    \b
    Examples:
      embedtune export runs/scifact --format st --out dist/scifact-st
      embedtune export runs/lora --format adapter --out dist/lora-adapter
      embedtune export runs/scifact --format onnx --out dist/scifact-onnx
      embedtune export runs/scifact --format onnx-int8 --out dist/int8 --eval-data my-beir-folder
      embedtune export runs/scifact --format openvino-int8 --out dist/ov-int8 --calibration-data my-beir-folder
      embedtune export --model runs/scifact --format onnx --out dist/scifact-onnx
    """
    from embedtune.export import export_model

    model = given_model(model, model_flag)
    setup_output(quiet or json_target == "-")
    check_json_target(json_target)
    result = export_model(model, fmt, out, overwrite=overwrite, eval_data=eval_data,  # type: ignore[arg-type]
                          eval_split=eval_split, calibration_data=calibration_data)
    if not emit_json(result.to_dict(), json_target):
        click.echo(result.to_table())
