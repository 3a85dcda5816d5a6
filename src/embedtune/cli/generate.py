"""``embedtune generate``: (query, positive) pairs from an unlabelled corpus, written as a training file."""
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
    quiet_option,
    setup_output,
)
from embedtune.generate.config import GENERATION_METHODS, ROUND_TRIP_METHODS

# Shared with `embedtune adapt`, which generates the same way.
generation_options = compose(
    click.option("--method", type=click.Choice(GENERATION_METHODS), default=None,
                 help="offline: ict + title pairs, no LLM and no download; ict: one sentence as the query, the "
                      "rest of the passage as its positive; title: title/heading -> passage; llm: an "
                      "OpenAI-compatible chat endpoint; doc2query: a seq2seq model [default: offline]."),
    click.option("--queries-per-doc", type=click.IntRange(min=1), default=None,
                 help="Queries per passage (ict sentences, LLM or doc2query queries) [default: 1]."),
    click.option("--ict-keep-probability", type=click.FloatRange(0, 1), default=None,
                 help="ict: chance the query sentence stays in its positive [default: 0.1]."),
    click.option("--min-query-words", type=click.IntRange(min=1), default=None, help="Shortest query kept [default: 4]."),
    click.option("--max-query-words", type=click.IntRange(min=1), default=None, help="Longest query kept [default: 64]."),
    click.option("--min-passage-words", type=click.IntRange(min=1), default=None, help="Shortest positive kept [default: 16]."),
    click.option("--no-dedupe", is_flag=True, help="Keep repeated queries."),
    click.option("--round-trip", type=click.Choice(ROUND_TRIP_METHODS), default=None,
                 help="Keep a pair only if its positive ranks in the top --round-trip-k for its query under bm25 "
                      "or the dense model (--model); none: off [default: bm25]."),
    click.option("--round-trip-k", type=click.IntRange(min=1), default=None, help="Round-trip rank cutoff [default: 10]."),
    click.option("--max-pairs", type=click.IntRange(min=1), default=None,
                 help="Keep at most this many pairs, a seeded sample after the filters."),
    click.option("--chunk-size", type=click.IntRange(min=1), default=None,
                 help="Folders of .txt/.md: words per passage [default: 200]."),
    click.option("--chunk-overlap", type=click.IntRange(min=0), default=None,
                 help="Words shared by consecutive passages [default: 40]."),
    click.option("--llm-url", default=None, help="llm: base URL of an OpenAI-compatible API, e.g. http://localhost:8000/v1."),
    click.option("--llm-model", default=None, help="llm: model name sent with each request."),
    click.option("--llm-api-key-env", default=None, help="llm: environment variable holding the API key [default: OPENAI_API_KEY]."),
    click.option("--prompt-template", type=click.Path(dir_okay=False), default=None,
                 help="llm: text file with {passage} (optional {n}, {title}) [default: a built-in prompt]."),
    click.option("--concurrency", type=click.IntRange(min=1), default=None, help="llm: requests in flight [default: 4]."),
    click.option("--max-retries", type=click.IntRange(min=0), default=None,
                 help="llm: retries on timeouts, 429 and 5xx, with exponential backoff [default: 4]."),
    click.option("--max-requests", type=click.IntRange(min=1), default=None, help="llm: request budget for this run."),
    click.option("--max-total-tokens", type=click.IntRange(min=1), default=None,
                 help="llm: token budget for this run (as the endpoint reports usage)."),
    click.option("--doc2query-model", default=None,
                 help="doc2query: seq2seq model folder or hub id (e.g. doc2query/msmarco-t5-base-v1)."),
)


def generate_config_values(flags: dict[str, Any], no_dedupe: bool) -> dict[str, Any]:
    """GenerateConfig keys from the generation flags (None: not given)."""
    import dataclasses

    from embedtune.generate.config import GenerateConfig

    names = {f.name for f in dataclasses.fields(GenerateConfig)}
    values = {k: v for k, v in flags.items() if k in names and v is not None}
    if no_dedupe:
        values["dedupe"] = False
    return values


@click.command("generate")
@data_option("Documents: a BEIR folder or corpus.jsonl, a .jsonl/.csv of id/title/text, or a folder of .txt/.md "
             "files", old="--corpus", old_short="-c")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="JSONL of {query, positive, doc_id, method} rows (input for embedtune train --data or mine).")
@generation_options
@click.option("--model", "-m", default=None, envvar="EMBEDTUNE_MODEL", help="Model for --round-trip dense [default: all-MiniLM-L6-v2].")
@click.option("--seed", type=int, default=None, help="Seed for sentence choice and sampling [default: 42].")
@click.option("--overwrite", is_flag=True, help="Replace --out if it exists.")
@json_option("the summary")
@compose(quiet_option)
def generate_command(data: str | None, data_alias: str | None, out: str, no_dedupe: bool, overwrite: bool,
                     json_target: str | None, quiet: bool,
                     **flags: Any) -> None:
    """Generate (query, positive) pairs from documents without labels, then filter them.

    Offline methods need no LLM and no download. With --method llm, each passage's queries are
    appended to OUT.progress.jsonl as they arrive: after a failure or a spent budget, rerun the
    same command to continue where it stopped.

    \b
    Examples:
      embedtune generate --data docs/ --out pairs.jsonl
      embedtune generate --data docs/ --chunk-size 150 --method title --out pairs.jsonl
      OPENAI_API_KEY=... embedtune generate --data docs/ --method llm --llm-url http://localhost:8000/v1 \\
          --llm-model qwen2.5-7b-instruct --max-requests 2000 --out pairs.jsonl
      embedtune train --data pairs.jsonl --out runs/adapted
    """
    from embedtune.config import build_config
    from embedtune.generate import GenerateConfig, GenerationError, generate_pairs

    corpus = given_data(data, data_alias, old="--corpus")
    show_progress = setup_output(quiet or json_target == "-")
    check_json_target(json_target)
    config = build_config(GenerateConfig, generate_config_values(flags, no_dedupe), source="flags")
    result = generate_pairs(corpus, config, out=out, overwrite=overwrite, show_progress=show_progress)
    if not emit_json({**result.summary(), "out": out}, json_target):
        click.echo(result.to_table())
        click.echo(f"wrote {out}")
    if result.stopped:
        raise GenerationError(f"generation stopped early: {result.stopped}")
