"""``embedtune train``: contrastive fine-tuning, settings from flags and/or a YAML file."""
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
    quiet_option,
    setup_output,
)
from embedtune.config import (
    DATASET_SAMPLINGS,
    PRECISIONS,
    RECIPES,
    SELECT_ON,
    STRATEGIES,
    TEACHER_KINDS,
    TEACHER_PRECISIONS,
    TRAIN_NEGATIVES,
)
from embedtune.evaluation.report_html import REPORT_HTML
from embedtune.loss_registry import loss_help, loss_names


@click.command("train")
@click.option("--data", "-d", required=True, type=click.Path(), multiple=True,
              help="BEIR folder, or a .jsonl/.csv file of query/positive[/negative] rows. Repeat it to train "
                   "on several data sets in one run (see --sampling).")
@compose(model_option)
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="full: update every weight (default); lora: train a low-rank adapter, merged at the end; "
                   "qlora: LoRA on a 4-bit base (needs a CUDA GPU and bitsandbytes).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Folder for the trained model.")
@click.option("--recipe", type=click.Choice(RECIPES), default=None,
              help="auto: try in-batch vs mined hard negatives, the false-negative filter on and off and the "
                   "learning rate at two values, each for one epoch, and keep training the one the dev split "
                   "picks (the simplest recipe within its bootstrap spread, the learning rate by its dev mean); fixed: "
                   "the settings as given [default: auto].")
@click.option("--negatives", type=click.Choice(TRAIN_NEGATIVES), default=None,
              help="Hard negatives for rows without their own: none, or mined by bm25, dense or hybrid (from the "
                   "corpus, or a pair file's other positives); auto: --recipe auto chooses, fixed uses none "
                   "[default: auto].")
@click.option("--num-negatives", type=click.IntRange(min=1), default=None, help="Mined negatives per row [default: 1].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as below, with underscores); flags override it.")
@click.option("--loss", type=click.Choice(loss_names()), default=None, help=f"{loss_help()} [default: mnrl].")
@click.option("--mini-batch-size", type=click.IntRange(min=1), default=None,
              help="cached_mnrl: texts per forward/backward chunk [default: 8].")
@click.option("--guide-model", default=None, help="gist: the guide model (local folder or hub id).")
@click.option("--teacher", default=None,
              help="margin_mse/margin_kl/embedding_mse: the teacher (local folder or hub id; all-mpnet-base-v2 "
                   "installs offline from PyPI). margin_mse and margin_kl also take hybrid: BM25 fused with "
                   "--model (hybrid:MODEL: with MODEL). margin_mse's scores are computed once and cached.")
@click.option("--teacher-kind", type=click.Choice(TEACHER_KINDS), default=None,
              help="cross-encoder or bi-encoder [default: auto: from the model's architecture].")
@click.option("--teacher-precision", type=click.Choice(TEACHER_PRECISIONS), default=None,
              help="Teacher scoring in fp32 (exact) or bf16 [default: auto: bf16 when training runs in bf16].")
@click.option("--matryoshka-dims", default=None,
              help="Comma-separated embedding sizes to train for truncation, e.g. 384,256,128,64: the loss is "
                   "applied at each size (MatryoshkaLoss) [default: off].")
@click.option("--matryoshka-weights", default=None,
              help="Comma-separated loss weight per --matryoshka-dims size, in the same order, e.g. 1,1,2,2 to "
                   "favour the small sizes [default: 1 each].")
@click.option("--matryoshka-rotation", "matryoshka_rotation", flag_value=True, default=None,
              help="With --matryoshka-dims: after training, fit an orthogonal rotation of the embedding space "
                   "that makes the truncated sizes score higher (full-size scores do not change), kept as a "
                   "Dense module after pooling only if the dev split says it helps [default: on].")
@click.option("--no-matryoshka-rotation", "matryoshka_rotation", flag_value=False, default=None,
              help="With --matryoshka-dims: no rotation.")  # its own row in --help (a "--a/--no-a" pair wraps)
@click.option("--select-on", type=click.Choice(SELECT_ON), default=None,
              help="What picks the best checkpoint on dev: full (nDCG@10 at full size) or dims (its mean over "
                   "the full size and every --matryoshka-dims size) [default: auto: dims with --matryoshka-dims].")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None, help="Passes over the data [default: 3].")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate [default: 5e-5 full, 5e-4 lora and qlora].")
@click.option("--batch-size", type=click.IntRange(min=2), default=None, help="Pairs per batch [default: 32].")
@click.option("--max-seq-length", type=click.IntRange(min=8), default=None, help="Tokens kept per text [default: 256].")
@click.option("--query-prompt", default=None,
              help='Text put before every query, e.g. "query: ", in training, evaluation and the saved model\'s '
                   'encode_query; "" for none [default: the base model\'s own].')
@click.option("--document-prompt", default=None,
              help='The same for documents, e.g. "passage: ", used by encode_document [default: the base model\'s own].')
@click.option("--seed", type=int, default=None, help="One seed for Python, numpy and torch [default: 42].")
@click.option("--precision", type=click.Choice(PRECISIONS), default=None,
              help="auto: bf16 autocast where the CPU (AVX512-BF16/AMX) or GPU has native bf16, fp16 on "
                   "older GPUs, else fp32 [default: auto].")
@click.option("--gradient-checkpointing", is_flag=True, default=None,
              help="Recompute activations in the backward pass: less memory for about a third more time per step.")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Dropout inside the model while training; 0 lets attention use its fused kernel, "
                   "0.1 is MiniLM's/BERT's own [default: 0].")
@click.option("--attention-dropout", type=click.FloatRange(0, 1, max_open=True), default=None,
              help="Dropout on attention probabilities alone, e.g. --dropout 0.1 --attention-dropout 0: "
                   "the model's hidden-state dropout with the fused attention kernel [default: same as --dropout].")
@click.option("--sampling", type=click.Choice(DATASET_SAMPLINGS), default=None,
              help="Several --data: proportional draws each batch from one set in proportion to its size; "
                   "round_robin takes the sets in turn until the smallest runs out [default: proportional].")
@click.option("--split", default=None, help="BEIR split to train on [default: train].")
@click.option("--eval-split", default=None, help="BEIR split scored before and after, never trained on [default: test].")
@click.option("--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Share of training queries held out to pick the best checkpoint [default: 0.1].")
@click.option("--evals-per-epoch", type=click.IntRange(min=1), default=None,
              help="Dev evaluations, each a checkpoint the best may be chosen from, per epoch [default: 1].")
@click.option("--save-every-minutes", type=click.FloatRange(min=0), default=None,
              help="Also checkpoint after this many minutes without one, so a kill loses at most that much "
                   "work; 0: only at dev evaluations [default: 10].")
@click.option("--lora-r", type=click.IntRange(min=1), default=None, help="LoRA rank [default: 16].")
@click.option("--lora-alpha", type=click.IntRange(min=1), default=None, help="LoRA alpha [default: 32].")
@click.option("--lora-dropout", type=click.FloatRange(0, 1, max_open=True), default=None, help="Dropout on the LoRA branch [default: 0].")
@click.option("--lora-target-modules", default=None, help="Comma-separated layer names that get adapters [default: every linear layer of the body].")
@click.option("--guard-data", type=click.Path(), default=None, envvar="EMBEDTUNE_GUARD_DATA", show_envvar=True,
              help="Forgetting guard: a general-domain BEIR folder scored after training; if its nDCG@10 "
                   "dropped by more than --guard-threshold, the weights are mixed back towards the base "
                   "[default: off].")
@click.option("--guard-base", default=None,
              help="Model the guard measures forgetting against and mixes back in [default: the starting model; for a "
                   "model made by `embedtune pretrain`, the one it was pretrained from].")
@click.option("--guard-split", default=None, help="The guard folder's labelled split [default: test].")
@click.option("--guard-threshold", type=click.FloatRange(min=0), default=None,
              help="Largest guard nDCG@10 drop accepted without interpolating [default: 0.01].")
@click.option("--guard-alphas", default=None,
              help="Comma-separated weights of the tuned model tried in the mix, each in (0, 1]; if none "
                   "stays within the threshold, smaller ones follow in steps of 0.1 down to 0.1 "
                   "[default: 0.9,0.8,0.7,0.6,0.5].")
@click.option("--overwrite", is_flag=True,
              help="Replace an earlier run in --out (only a folder embedtune made, holding only its files).")
@json_option("the result")
@compose(quiet_option)
def train_command(data: tuple[str, ...], out: str, config_path: str | None, overwrite: bool, json_target: str | None, quiet: bool,
                  **flags: Any) -> None:
    """Fine-tune an embedding model with in-batch (and mined hard) negatives.

    A dev split carved from the training queries picks the best checkpoint; the held-out split
    (--eval-split) is only scored, before and after. If a run is interrupted, rerun the same
    command: it resumes from the last checkpoint in --out.

    With --guard-data, a general-domain set is scored after training (half its queries choose,
    half are only reported); when it dropped by more than --guard-threshold, the saved weights
    are (1 - alpha) * base + alpha * tuned, alpha chosen on the domain dev split and the guard.

    Several --data train one model on all of them: each batch comes from one data set (as
    --sampling says), each set has its own dev split, and their mean dev nDCG@10 picks the checkpoint.

    \b
    Examples:
      embedtune train --data my-beir-folder --out runs/scifact
      embedtune train --data pairs.jsonl --strategy lora --out runs/lora --epochs 1
      embedtune train --data pairs.jsonl --matryoshka-dims 384,256,128,64 --query-prompt "query: " --out runs/mrl
      embedtune train --data my-beir-folder --config train.yaml --out runs/cfg
      embedtune train --data my-beir-folder --guard-data general-beir-folder --out runs/guarded
      embedtune train --data mined.jsonl --loss margin_mse --teacher all-mpnet-base-v2 --out runs/distilled
      embedtune train --data my-beir-folder --data faq-pairs.jsonl --sampling round_robin --out runs/multi
      torchrun --nproc_per_node 2 -m embedtune.cli.app train --data pairs.jsonl --out runs/ddp
    """
    from embedtune.config import TrainConfig, build_config, load_yaml
    from embedtune.evaluation.report import comparison_table

    show_progress = setup_output(quiet or json_target == "-")
    check_json_target(json_target)
    values = load_yaml(config_path) if config_path else {}
    values.update({k: v for k, v in flags.items() if v is not None})
    config = build_config(TrainConfig, values, source=config_path or "flags")
    from embedtune.training import train_model  # torch: after the settings are known to be usable
    from embedtune.training.distributed import is_main_process

    result = train_model(data[0] if len(data) == 1 else list(data), out, config, overwrite=overwrite,
                         show_progress=show_progress)
    if not is_main_process():  # under torchrun the main process reports for all
        return
    if emit_json(result.to_dict(), json_target):
        return
    if result.before and result.after:
        click.echo(f"\nHeld-out split '{result.heldout_split}':")
        mixed = bool(result.guard and result.guard["interpolated"])  # the after-scores are of the saved mix
        click.echo(comparison_table(result.before, result.after, ("base", "mixed" if mixed else "tuned")))
    for extra in (result.datasets or [])[1:]:
        if extra["before"] and extra["after"]:
            click.echo(f"\n{extra['data']}, held-out split '{extra['heldout_split']}':")
            click.echo(comparison_table(extra["before"], extra["after"], ("base", "tuned")))
    if result.recipe:
        from embedtune.training.recipe import CandidateScore, RecipeChoice

        candidates = [CandidateScore(**c) for c in result.recipe["candidates"]]
        fields = {k: v for k, v in result.recipe.items() if k in RecipeChoice.__dataclass_fields__}
        click.echo("\n" + RecipeChoice(**{**fields, "candidates": candidates}).to_table())
    if result.guard:
        click.echo(f"\nforgetting guard ({result.guard['data']}): {result.guard['decision']}")
    click.echo(f"\ntrained on {result.num_train_pairs} pairs in {result.train_seconds:.0f}s; "
               f"best dev checkpoint at step {result.best_step}")
    click.echo(f"model saved to {result.model_dir}")
    click.echo(f"report: {Path(result.model_dir) / REPORT_HTML}")
