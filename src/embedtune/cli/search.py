"""``embedtune search``: query a saved index, optionally reranking the top N with a cross-encoder."""
from __future__ import annotations

import click

from embedtune.cli._options import check_json_target, emit_json, json_option, quiet_option, setup_output


@click.command("search")
@click.argument("index_dir", type=click.Path(file_okay=False))
@click.argument("query")
@click.option("--top-k", "-k", type=click.IntRange(min=1), default=10, show_default=True, help="Hits to show.")
@click.option("--rerank", default=None, metavar="CROSS_ENCODER",
              help="Second stage: a sentence-transformers CrossEncoder (folder or hub id) rescoring the top "
                   "--rerank-top hits.")
@click.option("--rerank-top", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many dense hits the cross-encoder rescores.")
@json_option("the hits")
@quiet_option
def search_command(index_dir: str, query: str, top_k: int, rerank: str | None, rerank_top: int, json_target: str | None,
                   quiet: bool) -> None:
    """Search INDEX_DIR (built by `embedtune index`) for QUERY with the model that built it.

    \b
    Examples:
      embedtune search indexes/scifact "vitamin D and respiratory infections"
      embedtune search indexes/scifact "statins and dementia" --rerank my-cross-encoder --rerank-top 100
    """
    from embedtune.serving import search_index

    setup_output(quiet or json_target == "-", inference=True)
    check_json_target(json_target)
    hits = search_index(index_dir, query, top_k=top_k, rerank=rerank, rerank_top=rerank_top)
    if emit_json([h.to_dict() for h in hits], json_target):
        return
    for rank, hit in enumerate(hits, 1):
        text = hit.text if len(hit.text) <= 100 else hit.text[:97] + "..."
        click.echo(f"{rank:>3}  {hit.score:8.4f}  {hit.id}  {text}")
