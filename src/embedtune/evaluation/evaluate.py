"""Evaluate an embedding model on a labelled retrieval split."""
from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from embedtune.config import check_dims_fit, parse_dims
from embedtune.data.types import RetrievalSet
from embedtune.inference.cache import EmbeddingCache
from embedtune.evaluation.metrics import DEFAULT_METRICS, evaluate_run, parse_metric, rank
from embedtune.evaluation.report import EvalReport
from embedtune.inference.search import encode_retrieval_set, search, truncate
from embedtune.inference.quantize import bytes_per_vector, scoring_space

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder, SentenceTransformer

logger = logging.getLogger(__name__)


def evaluate_model(model: SentenceTransformer, data: RetrievalSet, *,
                   metrics: Sequence[str] = DEFAULT_METRICS, batch_size: int = 32,
                   cache: EmbeddingCache | None = None, show_progress: bool = False,
                   model_name: str = "", backend: str = "torch", devices: list[str] | None = None,
                   dims: Sequence[int] | None = None, quantize: Sequence[str] | None = None,
                   reranker: CrossEncoder | None = None, reranker_name: str = "",
                   rerank_top: int = 50, keep_top: int = 0) -> EvalReport:
    """Retrieve for every query with a positive label and score the run.

    The search depth is the largest cutoff asked for, so Recall@100 really sees 100 documents.
    ``backend`` is how texts are encoded (see ``embedtune.inference``): the default is exact fp32;
    ``devices`` (e.g. ``["cuda:0", "cuda:1"]``) spreads the encoding over one process per device.
    ``dims`` (e.g. ``[256, 128, 64]``) also scores the embeddings truncated to each size and
    re-normalised, in ``report.by_dim`` (with the full size); the texts are encoded once.
    ``quantize`` (``["int8"]``, ``["binary"]`` or both) also scores the quantized embeddings at
    each size, in ``report.operating_points`` with their bytes per vector.
    ``reranker`` (a cross-encoder) rescores the top ``rerank_top`` dense hits of each query: the
    two-stage scores go to ``report.two_stage``.
    ``keep_top`` keeps each query's best ``keep_top`` document ids in ``report.top_documents``.
    """
    from embedtune.inference.quantize import parse_quantize

    quantize = parse_quantize(quantize, "quantize")
    start = time.perf_counter()
    depth = max(parse_metric(m)[1] for m in metrics)
    dims = parse_dims(dims, "dims")
    declared_dim = model.get_embedding_dimension()
    if dims and declared_dim:  # before encoding, so a wrong size fails at once
        check_dims_fit(dims, declared_dim, "dims", model_name or "the model")
    query_ids = data.evaluable_query_ids()
    doc_ids = list(data.corpus)
    queries, documents = encode_retrieval_set(model, data, query_ids, batch_size=batch_size, cache=cache,
                                              show_progress=show_progress, backend=backend, devices=devices)
    qrels = {q: data.qrels[q] for q in query_ids}
    run = search(queries, documents, query_ids, doc_ids, max(depth, rerank_top if reranker else 0))
    mean, per_query = evaluate_run(qrels, run, metrics)
    by_dim: dict[int, dict[str, float]] = {}
    operating_points: list[dict[str, Any]] = []
    full_dim = documents.shape[1]
    if dims and not declared_dim:  # models that do not say their size are checked against what they produced
        check_dims_fit(dims, full_dim, "dims", model_name or "the model")
    for dim in sorted({*(dims or []), full_dim}, reverse=True) if dims or quantize else []:
        cut_queries, cut_documents = (queries, documents) if dim == full_dim else (
            truncate(queries, dim), truncate(documents, dim))
        for precision in ["float32", *quantize]:
            scores = mean if dim == full_dim and precision == "float32" else evaluate_run(
                qrels, search(*scoring_space(cut_queries, cut_documents, precision), query_ids, doc_ids, depth),
                metrics)[0]
            if precision == "float32" and dims:
                by_dim[dim] = scores
            operating_points.append({"dim": dim, "precision": precision,
                                     "bytes_per_vector": bytes_per_vector(dim, precision), "metrics": scores})
    two_stage: dict[str, Any] = {}
    if reranker is not None:
        from embedtune.evaluation.rerank import rerank_run

        reranked = rerank_run(reranker, {q: data.queries[q] for q in query_ids}, run, data.corpus, rerank_top)
        two_stage = {"cross_encoder": reranker_name, "rerank_top": rerank_top,
                     "metrics": evaluate_run(qrels, reranked, metrics)[0]}
    return EvalReport(
        metrics=mean, per_query=per_query, model=model_name, data=data.source, split=data.split,
        num_queries=len(query_ids), num_documents=len(data.corpus),
        skipped_queries=len(data.queries) - len(query_ids), seconds=time.perf_counter() - start,
        backend=backend, by_dim=by_dim, operating_points=operating_points, two_stage=two_stage,
        top_documents=_top_documents(run, keep_top),
    )


def evaluate_bm25(data: RetrievalSet, *, metrics: Sequence[str] = DEFAULT_METRICS, keep_top: int = 0) -> EvalReport:
    """BM25 (bm25s, as hard-negative mining uses it) scored like a model: the lexical reference line."""
    from embedtune.mining.candidates import bm25_candidates

    start = time.perf_counter()
    depth = max(parse_metric(m)[1] for m in metrics)
    query_ids = data.evaluable_query_ids()
    doc_ids = list(data.corpus)
    found = bm25_candidates(list(data.corpus.values()), [data.queries[q] for q in query_ids], depth)
    # A score of 0 means no query term occurs in the document: BM25 did not retrieve it.
    run = {qid: {doc_ids[j]: float(s) for j, s in zip(found.indices[i], found.scores[i]) if j >= 0 and s > 0}
           for i, qid in enumerate(query_ids)}
    mean, per_query = evaluate_run({q: data.qrels[q] for q in query_ids}, run, metrics)
    return EvalReport(
        metrics=mean, per_query=per_query, model="BM25", data=data.source, split=data.split,
        num_queries=len(query_ids), num_documents=len(data.corpus),
        skipped_queries=len(data.queries) - len(query_ids), seconds=time.perf_counter() - start,
        backend="bm25s", top_documents=_top_documents(run, keep_top),
    )


def _top_documents(run: dict[str, dict[str, float]], keep_top: int) -> dict[str, list[str]]:
    return {qid: rank(scores)[:keep_top] for qid, scores in run.items()} if keep_top > 0 else {}


def sample_corpus(data: RetrievalSet, size: int, seed: int = 42) -> RetrievalSet:
    """Keep every judged document plus random others up to ``size`` documents.

    Dev evaluation during training runs several times; encoding the whole corpus each time
    would cost more than the training itself, while a fixed random sample keeps the ranking
    task honest (the same distractors for every checkpoint).
    """
    if len(data.corpus) <= size:
        return data
    judged = {d for j in data.qrels.values() for d in j if d in data.corpus}
    others = sorted(d for d in data.corpus if d not in judged)
    extra = random.Random(seed).sample(others, max(0, min(len(others), size - len(judged))))
    keep = judged | set(extra)
    corpus = {d: t for d, t in data.corpus.items() if d in keep}
    return RetrievalSet(corpus=corpus, queries=data.queries, qrels=data.qrels, source=data.source, split=data.split)


def evaluate_path(model: str | None, data: str, split: str = "test", *,
                  metrics: Sequence[str] = DEFAULT_METRICS, batch_size: int = 32,
                  max_seq_length: int | None = None, cache: EmbeddingCache | None = None,
                  show_progress: bool = False, backend: str = "torch",
                  devices: list[str] | None = None, dims: Sequence[int] | None = None,
                  quantize: Sequence[str] | None = None, rerank: str | None = None,
                  rerank_top: int = 50, reverse: bool = False) -> EvalReport:
    """Load a model and a BEIR split by name and evaluate (what ``embedtune eval`` runs).

    ``rerank`` names a cross-encoder (folder or hub id) for the two-stage score. ``reverse`` searches
    the other way: each judged document finds its queries (image to text, on image data).
    """
    from embedtune.inference.quantize import parse_quantize
    from embedtune.data.beir import load_beir
    from embedtune.models import display_name, load_model

    for name in metrics:
        parse_metric(name)
    parse_dims(dims, "dims")
    parse_quantize(quantize, "quantize")
    dataset = load_beir(data, split)
    dataset = dataset.swapped() if reverse else dataset
    loaded = load_model(model, max_seq_length=max_seq_length)
    reranker = None
    if rerank:
        from embedtune.evaluation.rerank import load_cross_encoder

        reranker = load_cross_encoder(rerank)
    return evaluate_model(loaded, dataset, metrics=metrics, batch_size=batch_size, cache=cache,
                          show_progress=show_progress, model_name=display_name(model), backend=backend,
                          devices=devices, dims=dims, quantize=quantize, reranker=reranker,
                          reranker_name=str(rerank or ""), rerank_top=rerank_top)
