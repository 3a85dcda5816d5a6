"""``embedtune eval``: score a model on a labelled BEIR split."""
from __future__ import annotations

import json

import click

from embedtune.cli._options import (batch_size_option, check_json_target, compose, max_seq_length_option,
                                    model_option, no_cache_option, quiet_option, setup_output)
from embedtune.inference.encoder import BACKENDS


@click.command("eval")
@compose(model_option)
@click.option("--data", "-d", required=True, type=click.Path(), help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/).")
@click.option("--split", default="test", show_default=True, help="Which qrels/<split>.tsv to score.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None,
              help="Also write metrics and per-query scores to this JSON file ('-' for stdout).")
@click.option("--metrics", default=None, help="Comma-separated, e.g. ndcg@10,recall@100 [default: the full set].")
@compose(batch_size_option, max_seq_length_option)
@click.option("--backend", type=click.Choice(BACKENDS), default="torch", show_default=True,
              help="How texts are encoded. torch, onnx and openvino reproduce sentence-transformers' fp32 "
                   "embeddings (onnx needs onnxruntime, openvino embedtune[openvino]); torch-bf16, onnx-int8 and "
                   "openvino-int8 (static int8, calibrated on the corpus) are faster and approximate; "
                   "sentence-transformers is the reference.")
@click.option("--devices", default=None,
              help="Comma-separated devices to encode on in parallel, one process each, e.g. cuda:0,cuda:1.")
@click.option("--dims", default=None,
              help="Comma-separated embedding sizes, e.g. 384,256,128,64: also score the embeddings cut to "
                   "their first N dimensions (re-normalised), one column per size; texts are encoded once.")
@click.option("--quantize", default=None,
              help="int8, binary or int8,binary: also score the quantized embeddings at each size, in a table "
                   "of dim, precision, bytes per vector and quality.")
@click.option("--rerank", default=None, metavar="CROSS_ENCODER",
              help="Also score two-stage retrieval: a sentence-transformers CrossEncoder (folder or hub id) "
                   "rescoring the top --rerank-top dense hits of each query.")
@click.option("--rerank-top", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many dense hits per query the cross-encoder rescores.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Also score the base model the same way and write DIR/report.html comparing the two "
                   "(self-contained, plots also saved as PNGs beside it) and DIR/report.json; a model with "
                   "no base model (a stock model, no --base-model) gets a report of its own scores. With "
                   "--quantize the page also plots quality against bytes per vector for both models.")
@click.option("--base-model", default=None,
              help="With --report: the model to compare with [default: the base a model trained by embedtune records].")
@click.option("--overwrite", is_flag=True, help="With --report: replace a report already in DIR.")
@click.option("--reverse", is_flag=True,
              help="Search the other way: each judged document finds its queries (image -> text on image data).")
@compose(no_cache_option, quiet_option)
def eval_command(model: str | None, data: str, split: str, json_path: str | None, metrics: str | None,
                 batch_size: int, max_seq_length: int | None, backend: str, devices: str | None,
                 dims: str | None, quantize: str | None, rerank: str | None, rerank_top: int,
                 report_dir: str | None, base_model: str | None, overwrite: bool, reverse: bool, no_cache: bool,
                 quiet: bool) -> None:
    """Score MODEL on a labelled split: nDCG, MRR, MAP, Recall and Precision at several depths.

    Corpus embeddings are cached on disk (keyed by the model's weights and the texts), so a
    second evaluation of the same model skips encoding.

    \b
    Examples:
      embedtune eval --data my-beir-folder --split test
      embedtune eval --model runs/scifact --data my-beir-folder --json after.json
      embedtune eval --data my-beir-folder --backend onnx-int8
      embedtune eval --model runs/matryoshka --data my-beir-folder --dims 384,256,128,64
      embedtune eval --data my-beir-folder --quantize int8,binary --dims 128
      embedtune eval --data my-beir-folder --rerank my-cross-encoder --rerank-top 50
      embedtune eval --model runs/scifact --data my-beir-folder --report reports/scifact
      embedtune eval --model runs/clip --data my-image-folder --reverse
    """
    from embedtune._writable import check_writable
    from embedtune.config import parse_dims
    from embedtune.errors import ConfigError
    from embedtune.evaluation import DEFAULT_METRICS, EmbeddingCache, evaluate_path
    from embedtune.inference.quantize import parse_quantize

    if report_dir is None and (base_model or overwrite):
        raise ConfigError(f"{'--base-model' if base_model else '--overwrite'} only applies with --report DIR")
    check_json_target(json_path)  # written last: fail now, not after the evaluation
    if report_dir is not None:
        check_writable(report_dir, "--report")
    show_progress = setup_output(quiet or json_path == "-", inference=True)
    settings = dict(
        metrics=[m.strip() for m in metrics.split(",") if m.strip()] if metrics else DEFAULT_METRICS,
        batch_size=batch_size, max_seq_length=max_seq_length,
        cache=None if no_cache else EmbeddingCache(), show_progress=show_progress, backend=backend,
        devices=[d.strip() for d in devices.split(",") if d.strip()] if devices else None,
        dims=parse_dims(dims, "--dims"), quantize=parse_quantize(quantize, "--quantize"), rerank=rerank,
        rerank_top=rerank_top, reverse=reverse,
    )
    comparison = None
    if report_dir is not None:
        from embedtune.evaluation.comparison import compare_with_base

        if rerank:
            raise ConfigError("--report compares dense retrieval with the base model; run --rerank in a "
                              "separate eval")
        for key in ("rerank", "rerank_top"):
            settings.pop(key)
        comparison = compare_with_base(model, data, split, report_dir=report_dir, base_model=base_model,
                                       overwrite=overwrite, **settings)
        report = comparison.tuned
    else:
        report = evaluate_path(model, data, split, **settings)
    if json_path == "-":
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(report.to_table())
    if comparison is not None and comparison.base is not None:
        from embedtune.evaluation.report import comparison_table

        click.echo(f"\ncompared with {comparison.base_model}:")
        click.echo(comparison_table(comparison.base.metrics, comparison.tuned.metrics, ("base", "tuned")))
        click.echo(f"\n{comparison.facts['verdict']}\nwrote {comparison.report}")
    elif comparison is not None:
        click.echo(f"\nwrote {comparison.report}")
    if json_path:
        report.save(json_path)
        click.echo(f"wrote {json_path}")
