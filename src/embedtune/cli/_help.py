"""``--help`` in sections (inputs, model, the command's own work, output, advanced), rendered by rich-click.

Why: ``train`` has over forty options and ``adapt`` about as many; one alphabet-soup list hides the
five a user needs. rich-click (a well-kept drop-in for click) draws the panels; this module only says
which option goes where, by name, for every command at once: an option that is not an input, a model
setting, an output or an advanced knob belongs to the command's own work ("Training", "Generation", ...).
"""
from __future__ import annotations

import click

INPUTS = frozenset({"data", "split", "eval-split", "eval-data", "config", "index", "guard-data", "base-model"})
MODEL = frozenset({"model", "strategy", "max-seq-length", "query-prompt", "document-prompt", "lora-r",
                   "lora-alpha", "lora-dropout", "lora-target-modules", "freeze", "precision", "backend", "devices"})
OUTPUT = frozenset({"out", "json", "report", "overwrite", "quiet", "format", "kind", "no-cache"})
ADVANCED = frozenset({
    "seed", "save-every-minutes", "evals-per-epoch", "dropout", "attention-dropout", "gradient-checkpointing",
    "teacher-precision", "select-on", "mini-batch-size", "guard-base", "guard-split", "guard-alphas",
    "sampling", "dev-fraction", "concurrency", "max-retries", "max-requests", "max-total-tokens", "prompt-template",
    "doc2query-model", "ict-keep-probability", "min-query-words", "max-query-words", "min-passage-words",
    "no-dedupe", "round-trip-k", "chunk-overlap", "cross-encoder-threshold", "relative-margin",
    "absolute-margin", "no-margin", "range-min", "range-max", "max-docs", "batch-wait-ms", "max-batch-size",
    "max-input-chars", "max-request-bytes", "max-top-k", "threads", "api-key"})
OWN_WORK = {"generate": "Generation", "mine": "Mining", "eval": "Scoring", "index": "Index", "search": "Search",
            "serve": "Serving", "export": "Export", "demo": "Demo"}  # any other command: "Training"


def use_grouped_help() -> None:
    """Make ``click.command`` build rich-click commands; call it before the commands are defined."""
    from rich_click import rich_click as config
    from rich_click.patch import patch

    patch()
    config.WIDTH = config.MAX_WIDTH = 100
    config.SHOW_ARGUMENTS = True
    config.OPTIONS_PANEL_TITLE = "Other options"
    config.TEXT_PARAGRAPH_LINEBREAKS = "\n\n"
    config.OPTIONS_TABLE_COLUMN_TYPES = ["required", "opt_long", "opt_short", "metavar", "help"]


def group_options(cli: click.Group) -> None:
    """Give every command of ``cli`` its panels (empty ones are left out)."""
    from rich_click import rich_click as config

    config.OPTION_GROUPS = {f"* {name}": panels(name, command) for name, command in cli.commands.items()}


def panels(name: str, command: click.Command) -> list[dict[str, object]]:
    """The command's options by section, each in the order the command declares them."""
    sections: dict[str, list[str]] = {title: [] for title in
                                      ("Inputs", "Model", OWN_WORK.get(name, "Training"), "Output", "Advanced")}
    for param in command.params:
        if param.param_type_name != "option" or getattr(param, "hidden", False):  # (click's or rich-click's class)
            continue
        sections[section_of(name, param)].append(param.opts[0])
    return [{"name": title, "options": options} for title, options in sections.items() if options]


def section_of(command: str, option: click.Option) -> str:
    key = option.opts[0].lstrip("-")
    for title, names in (("Inputs", INPUTS), ("Model", MODEL), ("Output", OUTPUT), ("Advanced", ADVANCED)):
        if key in names:
            return title
    return OWN_WORK.get(command, "Training")
