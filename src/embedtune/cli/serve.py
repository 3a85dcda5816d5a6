"""``embedtune serve``: an HTTP embedding server (OpenAI-compatible) with optional search over an index."""
from __future__ import annotations

import click

from embedtune.cli._options import given_model, model_argument, setup_output
from embedtune.inference.encoder import BACKENDS
from embedtune.inference.lean import LEAN_BACKENDS


@click.command("serve")
@model_argument("The model to serve (folder or hub id); the same as the positional MODEL.")
@click.option("--index", "index_dir", type=click.Path(file_okay=False), default=None,
              help="Index folder (from `embedtune index`, built with MODEL) to serve POST /search over.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--api-key", default=None, envvar="EMBEDTUNE_API_KEY", show_envvar=True,
              help="Require 'Authorization: Bearer KEY' on every endpoint but /health [default: off].")
@click.option("--rerank", default=None, metavar="CROSS_ENCODER",
              help="Rerank /search results with this sentence-transformers CrossEncoder (folder or hub id).")
@click.option("--rerank-top", type=click.IntRange(min=1), default=50, show_default=True,
              help="Dense hits the cross-encoder rescores per search.")
@click.option("--backend", type=click.Choice(BACKENDS + tuple(LEAN_BACKENDS)), default="torch", show_default=True,
              help="How texts are encoded (see `embedtune eval --help`); lean-openvino and lean-openvino-int8 "
                   "serve an `embedtune export --format openvino[-int8]` folder without PyTorch "
                   "(/v1/embeddings only).")
@click.option("--max-batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Most texts accepted in one request.")
@click.option("--max-input-chars", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Longest text accepted, in characters.")
@click.option("--max-request-bytes", type=click.IntRange(min=1), default=4_000_000, show_default=True,
              help="Largest request body accepted.")
@click.option("--max-top-k", type=click.IntRange(min=1), default=100, show_default=True,
              help="Most hits one /search may ask for.")
@click.option("--batch-wait-ms", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="How long a request waits for concurrent ones to share its encoding batch.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads per encoding batch [torch's default, one per core]; 1 can be much faster on a "
                   "machine busy with other work.")
@click.option("--quiet", "-q", is_flag=True, help="Log warnings only (no access log).")
def serve_command(model: str | None, model_flag: str | None, index_dir: str | None, host: str, port: int, api_key: str | None,
                  rerank: str | None, rerank_top: int, backend: str, max_batch_size: int, max_input_chars: int,
                  max_request_bytes: int, max_top_k: int, batch_wait_ms: float, threads: int | None, quiet: bool) -> None:
    """Serve MODEL over HTTP: POST /v1/embeddings (OpenAI-compatible), POST /search, GET /health.

    The model loads once; concurrent requests are encoded together in small batches. The
    OpenAPI spec is at /openapi.json and browsable at /docs.

    \b
    Examples:
      embedtune serve runs/scifact --index indexes/scifact
      EMBEDTUNE_API_KEY=secret embedtune serve --model all-MiniLM-L6-v2 --port 9000
      embedtune serve dist/minilm-ov --backend lean-openvino-int8   # an export folder, no PyTorch
      curl -s localhost:8000/v1/embeddings -H 'Content-Type: application/json' -d '{"input": ["hello"]}'
      curl -s localhost:8000/search -H 'Content-Type: application/json' -d '{"query": "vitamin D", "top_k": 5}'
    """
    from embedtune.serving.server import ServerSettings, serve

    model = given_model(model, model_flag)
    setup_output(quiet, inference=True)
    settings = ServerSettings(max_batch_size=max_batch_size, max_input_chars=max_input_chars,
                              max_request_bytes=max_request_bytes, max_top_k=max_top_k, batch_wait_ms=batch_wait_ms)
    serve(model, index=index_dir, host=host, port=port, api_key=api_key, rerank=rerank, rerank_top=rerank_top,
          backend=backend, settings=settings, threads=threads, log_level="warning" if quiet else "info")
