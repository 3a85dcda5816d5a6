"""``embedtune index``: encode a corpus and save a FAISS index that `search` and `serve` open."""
from __future__ import annotations

import click

from embedtune.cli._options import (batch_size_option, compose, max_seq_length_option, model_option,
                                    no_cache_option, quiet_option, setup_output)
from embedtune.serving.index import INDEX_KINDS


@click.command("index")
@compose(model_option)
@click.option("--data", "-d", required=True, type=click.Path(exists=True),
              help="BEIR folder (its corpus.jsonl) or a corpus .jsonl of {_id, title, text} rows.")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Folder for the index.")
@click.option("--kind", type=click.Choice(INDEX_KINDS), default="auto", show_default=True,
              help="flat: exact; hnsw: graph, fast on large corpora; ivf: clustered lists; "
                   "auto: flat up to 100,000 documents, hnsw above.")
@compose(batch_size_option, max_seq_length_option, no_cache_option)
@click.option("--overwrite", is_flag=True, help="Replace an earlier index in --out (only a folder embedtune made, holding only its files).")
@quiet_option
def index_command(model: str | None, data: str, out: str, kind: str, batch_size: int,
                  max_seq_length: int | None, no_cache: bool, overwrite: bool, quiet: bool) -> None:
    """Encode every document of a corpus with MODEL and save a searchable index in --out.

    The folder holds the FAISS index, the document ids and texts, and index.json naming the
    model (and a hash of its weights, so a server with another model refuses it).

    \b
    Examples:
      embedtune index --data my-beir-folder --out indexes/scifact
      embedtune index --model runs/scifact --data my-beir-folder --out indexes/tuned --kind hnsw
    """
    from embedtune.evaluation import EmbeddingCache
    from embedtune.serving import build_index

    show_progress = setup_output(quiet, inference=True)
    info = build_index(model, data, out, kind=kind, batch_size=batch_size,  # type: ignore[arg-type]
                       max_seq_length=max_seq_length, cache=None if no_cache else EmbeddingCache(),
                       show_progress=show_progress, overwrite=overwrite)
    click.echo(info.to_table(out))
