"""``embedtune demo``: the whole pipeline offline, on code search over the Python standard library."""
from __future__ import annotations

import click

from embedtune.cli._options import compose, quiet_option, setup_output


@click.command("demo")
@click.option("--out", "-o", default="embedtune-demo", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the demo data, the tuned model and results.json.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier demo in --out (only one the demo made, holding only its files).")
@compose(quiet_option)
def demo_command(out: str, overwrite: bool, quiet: bool) -> None:
    """Build a code-search set from this machine's Python standard library, then eval -> LoRA train -> eval.

    Queries are the first line of each public function's docstring; documents are the function's
    source without its docstring; 20% of functions are held out for the before/after test.
    Runs offline in a few minutes on a laptop CPU.

    \b
    Example:
      embedtune demo --out embedtune-demo
    """
    from embedtune.demo import run_demo
    from embedtune.evaluation.report import comparison_table

    show_progress = setup_output(quiet)
    result = run_demo(out, overwrite=overwrite, show_progress=show_progress)
    click.echo("\nCode search on held-out standard-library functions:")
    click.echo(comparison_table(result.before, result.after, ("base", "tuned")))
    click.echo(f"\ntuned model saved to {result.model_dir}")
    click.echo(f"results written to {result.results_path}")
