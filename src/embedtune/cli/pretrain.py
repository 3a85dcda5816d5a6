"""``embedtune pretrain``: domain-adaptive pre-training (TSDAE or MLM) on a raw corpus."""
from __future__ import annotations

from typing import Any

import click

from embedtune.cli._options import (
    check_json_target,
    compose,
    data_option,
    emit_json,
    given_data,
    json_option,
    model_option,
    quiet_option,
    setup_output,
)
from embedtune.config import PRECISIONS, PRETRAIN_METHODS


@click.command("pretrain")
@data_option("Raw text: a BEIR folder (its corpus.jsonl), a .jsonl file with a \"text\" field per line, or a "
             ".txt file with one document per line", old="--corpus", old_short="-c")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Folder for the adapted model (input for embedtune train --model).")
@click.option("--method", type=click.Choice(PRETRAIN_METHODS), default=None,
              help="tsdae: rebuild each sentence from the embedding of a copy with 60% of its words deleted; "
                   "mlm: masked-language modelling on the transformer [default: tsdae].")
@compose(model_option)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as below, with underscores); flags override it.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Passes over the corpus texts [default: 1].")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many optimiser steps, whatever --epochs says [default: off].")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate [default: 3e-5 tsdae (constant, as the paper), 5e-5 mlm].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Texts per batch [default: 8].")
@click.option("--max-seq-length", type=click.IntRange(min=8), default=None,
              help="Tokens per text: longer sentences are cut, mlm chunks packed up to it [default: the model's own].")
@click.option("--max-docs", type=click.IntRange(min=1), default=None, help="Use only the first N documents [default: all].")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None,
              help="auto: bf16 autocast where the hardware has native bf16, else fp32 [default: auto].")
@click.option("--seed", type=int, default=None, help="One seed for Python, numpy, torch and the noise [default: 42].")
@click.option("--save-every-minutes", type=click.FloatRange(min=0), default=None,
              help="Also checkpoint after this many minutes without one; 0: only every save_steps [default: 10].")
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier run in --out (only a folder embedtune made, holding only its files).")
@json_option("the result")
@compose(quiet_option)
def pretrain_command(data: str | None, data_alias: str | None, out: str, config_path: str | None, overwrite: bool,
                     json_target: str | None, quiet: bool,
                     **flags: Any) -> None:
    """Adapt a model to your domain's raw text before contrastive training (no labels needed).

    The corpus is split into sentences (tsdae) or chunks of sentences (mlm). The saved folder is
    a sentence-transformers model with its pooling unchanged; fine-tune it with
    embedtune train --model OUT. If a run is interrupted, rerun the same command to resume.

    \b
    Examples:
      embedtune pretrain --data my-beir-folder --out runs/tsdae --max-steps 1000
      embedtune pretrain --data notes.txt --method mlm --out runs/mlm --epochs 1
      embedtune train --model runs/tsdae --data my-beir-folder --out runs/tsdae-tuned
    """
    from embedtune.config import PretrainConfig, build_config, load_yaml

    corpus = given_data(data, data_alias, old="--corpus")
    show_progress = setup_output(quiet or json_target == "-")
    check_json_target(json_target)
    values = load_yaml(config_path) if config_path else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    config = build_config(PretrainConfig, values, source=config_path or "flags")
    from embedtune.training.pretrain import pretrain_model  # torch: after the settings are known to be usable

    result = pretrain_model(corpus, out, config, overwrite=overwrite, show_progress=show_progress)
    if emit_json(result.to_dict(), json_target):
        return
    click.echo(result.to_table())
    click.echo(f"model saved to {result.model_dir}; next: embedtune train --model {result.model_dir} --data ...")
