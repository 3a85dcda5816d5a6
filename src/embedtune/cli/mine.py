"""``embedtune mine``: hard negatives for a labelled BEIR split, written as a JSONL training file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from embedtune.cli._options import (
    check_json_target,
    compose,
    emit_json,
    json_option,
    model_option,
    no_cache_option,
    quiet_option,
    setup_output,
)
from embedtune.config import MINING_METHODS, SAMPLINGS
from embedtune.inference.encoder import BACKENDS


@click.command("mine")
@click.option("--data", "-d", required=True, type=click.Path(), help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/).")
@click.option("--split", default=None, help="Split whose queries get negatives [default: train].")
@click.option("--method", type=click.Choice(MINING_METHODS), default=None,
              help="bm25: lexical (bm25s); dense: the model's own ranking; hybrid: both, rank-fused [default: hybrid].")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="JSONL file of {query, positive, negatives} rows (input for embedtune train --data).")
@compose(model_option)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as below, with underscores); flags override it.")
@click.option("--num-negatives", type=click.IntRange(min=1), default=None, help="Negatives per row [default: 5].")
@click.option("--range-min", type=click.IntRange(min=0), default=None,
              help="Skip this many top-ranked candidates [default: 0].")
@click.option("--range-max", type=click.IntRange(min=1), default=None, help="Consider candidates down to this rank [default: 50].")
@click.option("--sampling", type=click.Choice(SAMPLINGS), default=None,
              help="top: best-ranked survivors; random: a seeded sample of the window [default: top].")
@click.option("--relative-margin", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Refuse candidates scoring above (1 - this) x the positive's score [default: 0.05].")
@click.option("--absolute-margin", type=click.FloatRange(min=0), default=None,
              help="Refuse candidates scoring above the positive's score minus this [default: off].")
@click.option("--no-margin", is_flag=True, help="Turn the margin (false-negative) filters off.")
@click.option("--cross-encoder", default=None, help="Cross-encoder that vetoes candidates it finds relevant [default: off].")
@click.option("--cross-encoder-threshold", type=float, default=None,
              help="Cross-encoder score at which a candidate counts as relevant [default: 0.5].")
@click.option("--backend", type=click.Choice(BACKENDS), default=None, help="Encoding backend for dense mining [default: torch].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Texts per encoding batch [default: 32].")
@click.option("--max-seq-length", type=click.IntRange(min=8), default=None, help="Tokens kept per text.")
@click.option("--seed", type=int, default=None, help="Seed for random sampling [default: 42].")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@json_option("the mining summary")
@compose(no_cache_option, quiet_option)
def mine_command(data: str, out: str, config_path: str | None, no_margin: bool, overwrite: bool, json_target: str | None,
                 no_cache: bool, quiet: bool, **flags: Any) -> None:
    """Mine hard negatives: documents that rank high for a query but are not labelled relevant.

    Labelled positives are never negatives; candidates scoring too close to the positive are
    refused as probable unlabelled positives (NV-Retriever's positive-aware filter). The output
    trains directly: embedtune train --data OUT.jsonl. Dense mining reuses cached corpus embeddings.

    \b
    Examples:
      embedtune mine --data my-beir-folder --method bm25 --out negatives.jsonl
      embedtune mine --data my-beir-folder --method dense --range-min 3 --num-negatives 3 --out hard.jsonl
      embedtune train --data hard.jsonl --out runs/hard
    """
    from embedtune._writable import check_writable
    from embedtune.config import MineConfig, build_config, load_yaml
    from embedtune.data.beir import load_beir
    from embedtune.errors import OutputExistsError
    from embedtune.evaluation import EmbeddingCache
    from embedtune.mining import mine_hard_negatives

    show_progress = setup_output(quiet or json_target == "-", inference=True)
    check_json_target(json_target)
    if Path(out).exists() and not overwrite:
        raise OutputExistsError(f'"{out}" already exists; pass --overwrite to replace it or choose another --out')
    check_writable(out)
    values = load_yaml(config_path) if config_path else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    if no_margin:
        values.update(relative_margin=None, absolute_margin=None)
    config = build_config(MineConfig, values, source=config_path or "flags")
    dataset = load_beir(data, config.split)
    result = mine_hard_negatives(dataset, config, cache=None if no_cache else EmbeddingCache(),
                                 show_progress=show_progress)
    result.save(out)
    if emit_json({**result.summary(), "out": out}, json_target):
        return
    click.echo(result.to_table())
    click.echo(f"wrote {out}")
