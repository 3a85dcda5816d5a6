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
    settings_help,
    setup_output,
)
from embedtune.config import (
    DATASET_SAMPLINGS,
    FREEZE,
    PRECISIONS,
    RECIPES,
    SELECT_ON,
    STRATEGIES,
    TEACHER_KINDS,
    TEACHER_PRECISIONS,
    TRAIN_NEGATIVES,
    TrainConfig,
)
from embedtune.evaluation.report_html import REPORT_HTML
from embedtune.loss_registry import loss_help, loss_names


@click.command("train")
@click.option("--data", "-d", required=True, type=click.Path(), multiple=True,
              help="BEIR folder, or a .jsonl/.csv file of query/positive[/negative] rows. Repeat it to train "
                   "on several data sets in one run (see --sampling).")
@compose(model_option)
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None)
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Folder for the trained model.")
@click.option("--recipe", type=click.Choice(RECIPES), default=None)
@click.option("--negatives", type=click.Choice(TRAIN_NEGATIVES), default=None)
@click.option("--num-negatives", type=click.IntRange(min=1), default=None)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="YAML file of settings (keys as below, with underscores); flags override it.")
@click.option("--loss", type=click.Choice(loss_names()), default=None, help=f"{loss_help()} [default: mnrl].")
@click.option("--mini-batch-size", type=click.IntRange(min=1), default=None)
@click.option("--guide-model", default=None)
@click.option("--teacher", default=None)
@click.option("--teacher-kind", type=click.Choice(TEACHER_KINDS), default=None)
@click.option("--teacher-precision", type=click.Choice(TEACHER_PRECISIONS), default=None)
@click.option("--matryoshka-dims", default=None)
@click.option("--matryoshka-weights", default=None)
@click.option("--matryoshka-rotation", "matryoshka_rotation", flag_value=True, default=None)
@click.option("--no-matryoshka-rotation", "matryoshka_rotation", flag_value=False, default=None,
              help="With --matryoshka-dims: no rotation.")  # its own row in --help (a "--a/--no-a" pair wraps)
@click.option("--select-on", type=click.Choice(SELECT_ON), default=None)
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--extend-epochs", type=click.FloatRange(min=0), default=None)
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True), default=None)
@click.option("--batch-size", type=click.IntRange(min=2), default=None)
@click.option("--max-seq-length", type=click.IntRange(min=8), default=None)
@click.option("--query-prompt", default=None)
@click.option("--document-prompt", default=None)
@click.option("--seed", type=int, default=None)
@click.option("--precision", type=click.Choice(PRECISIONS), default=None)
@click.option("--gradient-checkpointing", is_flag=True, default=None)
@click.option("--freeze", type=click.Choice(FREEZE), default=None)
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), default=None)
@click.option("--attention-dropout", type=click.FloatRange(0, 1, max_open=True), default=None)
@click.option("--sampling", type=click.Choice(DATASET_SAMPLINGS), default=None)
@click.option("--split", default=None)
@click.option("--eval-split", default=None)
@click.option("--dev-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None)
@click.option("--evals-per-epoch", type=click.IntRange(min=1), default=None)
@click.option("--save-every-minutes", type=click.FloatRange(min=0), default=None)
@click.option("--lora-r", type=click.IntRange(min=1), default=None)
@click.option("--lora-alpha", type=click.IntRange(min=1), default=None)
@click.option("--lora-dropout", type=click.FloatRange(0, 1, max_open=True), default=None)
@click.option("--lora-target-modules", default=None)
@click.option("--guard-data", type=click.Path(), default=None, envvar="EMBEDTUNE_GUARD_DATA", show_envvar=True)
@click.option("--guard-base", default=None)
@click.option("--guard-split", default=None)
@click.option("--guard-threshold", type=click.FloatRange(min=0), default=None)
@click.option("--guard-alphas", default=None)
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
    from embedtune.config import TrainConfig, build_config, flatten_sections, load_yaml
    from embedtune.evaluation.report import comparison_table

    show_progress = setup_output(quiet or json_target == "-")
    check_json_target(json_target)
    values = flatten_sections(TrainConfig, load_yaml(config_path), config_path) if config_path else {}
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
        extended = result.recipe.get("extended")
        if extended:
            click.echo(f"dev still rose at the last evaluation: trained on {extended['epochs_run']:g} more "
                       f"epoch{'' if extended['epochs_run'] == 1 else 's'}, "
                       f"best dev nDCG@10 {extended['best_dev_before']:.4f} -> {extended['best_dev_after']}; "
                       f"kept {'the extension' if extended['kept'] else 'the run as it was'}")
    if result.guard:
        click.echo(f"\nforgetting guard ({result.guard['data']}): {result.guard['decision']}")
    click.echo(f"\ntrained on {result.num_train_pairs} pairs in {result.train_seconds:.0f}s; "
               f"best dev checkpoint at step {result.best_step}")
    click.echo(f"model saved to {result.model_dir}")
    click.echo(f"report: {Path(result.model_dir) / REPORT_HTML}")


settings_help(train_command, TrainConfig, skip=("model", "loss"))  # --model is shared; --loss lists the registry
