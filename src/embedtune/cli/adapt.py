"""``embedtune adapt``: unsupervised domain adaptation, generate -> mine -> train -> evaluate, in one command."""
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
    no_cache_option,
    quiet_option,
    setup_output,
)
from embedtune.cli.generate import generate_config_values, generation_options
from embedtune.config import MINING_METHODS
from embedtune.generate.config import PSEUDO_LABEL_LOSSES


@click.command("adapt")
@click.argument("docs", type=click.Path(), required=False)
@data_option("Documents to adapt to: a BEIR folder or corpus.jsonl, a .jsonl/.csv of id/title/text, or a folder "
             "of .txt/.md files (DOCS, the positional form, still works)")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Folder for the adapted model (generated and mined pairs go to OUT.adapt beside it).")
@compose(model_option)
@generation_options
@click.option("--mine-method", type=click.Choice(MINING_METHODS), default=None,
              help="Hard negatives for the generated queries: bm25, dense or hybrid [default: bm25].")
@click.option("--num-negatives", type=click.IntRange(min=1), default=None, help="Hard negatives per pair [default: 3].")
@click.option("--no-mine", is_flag=True, help="Train with in-batch negatives only.")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None, help="Passes over the pairs [default: 1].")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate [default: 5e-5].")
@click.option("--batch-size", type=click.IntRange(min=2), default=None, help="Pairs per batch [default: 32].")
@click.option("--max-seq-length", type=click.IntRange(min=8), default=None, help="Tokens kept per text [default: 256].")
@click.option("--heldout-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Share of documents whose generated queries only score the model, before and after [default: 0.1].")
@click.option("--guard-data", type=click.Path(), default=None, envvar="EMBEDTUNE_GUARD_DATA", show_envvar=True,
              help="Forgetting guard (as embedtune train): a general-domain BEIR folder; if its nDCG@10 drops by "
                   "more than 0.01 the weights are mixed back towards the base [default: off].")
@click.option("--cross-encoder", default=None,
              help="GPL-style pseudo-labels: this cross-encoder (folder or hub id) scores each mined row and "
                   "training distils its margins (the same as --teacher CE).")
@click.option("--teacher", default=None,
              help="GPL-style pseudo-labels from this teacher, distilled as --loss says: hybrid (BM25 fused with "
                   "--model; nothing to download), hybrid:MODEL, a cross-encoder or bi-encoder (folder or hub "
                   "id), or none (MultipleNegativesRankingLoss on the mined rows) [default: hybrid; none with --no-mine]. "
                   "--cross-encoder is the same option under its first name.")
@click.option("--loss", type=click.Choice(PSEUDO_LABEL_LOSSES), default=None,
              help="How the teacher's pseudo-labels are learnt: margin_kl (its margins on the mined negatives and "
                   "its ranking of every document in the batch; bi-encoder or hybrid teachers) or margin_mse (the "
                   "margins alone) [default: margin_kl; margin_mse for a cross-encoder].")
@click.option("--seed", type=int, default=None, help="One seed for generation, the split and training [default: 42].")
@click.option("--overwrite", is_flag=True, help="Replace a finished model in --out (only a folder embedtune made, holding only its files).")
@json_option("the report")
@compose(no_cache_option, quiet_option)
def adapt_command(docs: str | None, data: str | None, out: str, no_dedupe: bool, no_mine: bool, overwrite: bool,
                  json_target: str | None,
                  no_cache: bool, quiet: bool, **flags: Any) -> None:
    """Adapt a model to documents (--data, or DOCS) without labels: generate -> mine -> train -> evaluate.

    Queries generated from a held-out 10% of the documents (split by document, left out of
    mining and training) score the base and the adapted model. The report is also saved as
    OUT/embedtune_adapt.json. Defaults (offline ICT + title pairs, at most 3,000 of them, three
    BM25 negatives, a BM25 + dense teacher's margins and batch rankings, one epoch) are meant to
    fit a 5,000-document corpus in under 30 minutes on 2 CPU cores.

    \b
    Examples:
      embedtune adapt --data docs/ --out runs/adapted
      embedtune adapt --data docs/ --chunk-size 150 --guard-data general-beir/ --out runs/docs
      embedtune adapt --data docs/ --method llm --llm-url http://localhost:8000/v1 --llm-model m --out runs/llm
    """
    from embedtune.config import MineConfig, TrainConfig, build_config
    from embedtune.evaluation import EmbeddingCache
    from embedtune.generate.adapt import ADAPT_EPOCHS, ADAPT_MAX_PAIRS, ADAPT_MINE, adapt_model
    from embedtune.generate.config import AdaptConfig, GenerateConfig

    docs = given_data(data, positional=docs)
    show_progress = setup_output(quiet or json_target == "-")
    check_json_target(json_target)
    seed = {"seed": flags["seed"]} if flags["seed"] is not None else {}
    generate = build_config(GenerateConfig, {"max_pairs": ADAPT_MAX_PAIRS, **generate_config_values(flags, no_dedupe)},
                            source="flags")
    mine = build_config(MineConfig, {**ADAPT_MINE, **_given(flags, mine_method="method", num_negatives="num_negatives",
                                                            model="model"), **seed}, source="flags")
    train = build_config(TrainConfig, {"epochs": ADAPT_EPOCHS, **_given(
        flags, model="model", epochs="epochs", learning_rate="learning_rate", batch_size="batch_size",
        max_seq_length="max_seq_length", guard_data="guard_data"), **seed}, source="flags")
    adapt = build_config(AdaptConfig, {**_given(flags, heldout_fraction="heldout_fraction",
                                                cross_encoder="cross_encoder", teacher="teacher", loss="loss"),
                                 "mine": not no_mine, **seed},
                         source="flags")
    result = adapt_model(docs, out, generate=generate, mine=mine, train=train, adapt=adapt, overwrite=overwrite,
                         show_progress=show_progress, cache=None if no_cache else EmbeddingCache())
    if emit_json(result.to_dict(), json_target):
        return
    click.echo(result.to_table())
    click.echo(f"model saved to {result.model_dir}")


def _given(flags: dict[str, Any], **names: str) -> dict[str, Any]:
    """Config keys for the flags that were given: {flag name: config key}."""
    return {key: flags[flag] for flag, key in names.items() if flags.get(flag) is not None}
