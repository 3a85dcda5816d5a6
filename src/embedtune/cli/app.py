"""Entry point: ``embedtune COMMAND``. Importing this module does not import torch."""
from __future__ import annotations

import click

from embedtune.cli._help import group_options, use_grouped_help

use_grouped_help()  # before the commands below are defined: their click.command draws --help in sections

from embedtune import __version__  # noqa: E402
from embedtune.cli._errors import exit_with, run_with_clean_errors  # noqa: E402
from embedtune.cli._options import quiet_bars_off_a_terminal  # noqa: E402
from embedtune.cli.adapt import adapt_command  # noqa: E402
from embedtune.cli.demo import demo_command  # noqa: E402
from embedtune.cli.eval import eval_command  # noqa: E402
from embedtune.cli.generate import generate_command  # noqa: E402
from embedtune.cli.export import export_command  # noqa: E402
from embedtune.cli.index import index_command  # noqa: E402
from embedtune.cli.mine import mine_command  # noqa: E402
from embedtune.cli.pretrain import pretrain_command  # noqa: E402
from embedtune.cli.search import search_command  # noqa: E402
from embedtune.cli.serve import serve_command  # noqa: E402
from embedtune.cli.train import train_command  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "show_default": True})
@click.version_option(__version__, prog_name="embedtune")
def cli() -> None:
    """Fine-tune a text-embedding model for your domain and measure the gain honestly.

    \b
    Pipeline: eval (baseline) -> [pretrain on raw text] -> [mine hard negatives] -> train -> eval (after).
    No labels: adapt DOCS (generate queries -> mine -> train -> eval).
    Try it offline in a few minutes:  embedtune demo
    Errors print one line; set EMBEDTUNE_DEBUG=1 for the traceback.
    """
    quiet_bars_off_a_terminal()


cli.add_command(adapt_command)
cli.add_command(demo_command)
cli.add_command(eval_command)
cli.add_command(generate_command)
cli.add_command(export_command)
cli.add_command(index_command)
cli.add_command(mine_command)
cli.add_command(pretrain_command)
cli.add_command(search_command)
cli.add_command(serve_command)
cli.add_command(train_command)
group_options(cli)


def main() -> None:
    exit_with(run_with_clean_errors(cli))


if __name__ == "__main__":
    main()
