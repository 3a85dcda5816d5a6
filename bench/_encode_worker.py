"""One encoding run in its own process, for bench/speed.py: SciFact corpus (timed) + test queries, then nDCG.

``--impl plain`` encodes the way a hand-written sentence-transformers script does
(``model.encode(texts, batch_size=32, normalize_embeddings=True)``); ``--impl embedtune`` goes
through embedtune's encoder with ``--backend``; ``--impl lean`` encodes with an OpenVINO export
folder (``--export-dir``) through ``embedtune.inference.lean``, without importing PyTorch (the
result says whether any of torch, transformers or sentence-transformers was imported after all).
All are scored by the same code, so the nDCG@10 difference is the encoder's alone.
"""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=("plain", "embedtune", "lean"), required=True)
    parser.add_argument("--export-dir", type=Path, default=None, help="--impl lean: the OpenVINO export folder")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--result", type=Path, required=True)
    parser.add_argument("--embeddings", type=Path, required=True)
    args = parser.parse_args()

    import sys

    from embedtune.data.beir import load_beir
    from embedtune.evaluation.metrics import evaluate_run
    from embedtune.inference.search import exact_top_k

    data = load_beir(args.data, "test")
    doc_ids = list(data.corpus)
    qids = data.evaluable_query_ids()
    docs, queries = [data.corpus[d] for d in doc_ids], [data.queries[q] for q in qids]
    result: dict = {"impl": args.impl, "backend": args.backend if args.impl != "plain" else "plain"}
    encode_docs, encode_queries_ = _encoders(args, result)

    start = time.perf_counter()
    doc_vectors = encode_docs(docs)
    result["corpus_seconds"] = time.perf_counter() - start
    start = time.perf_counter()
    query_vectors = encode_queries_(queries)
    result["queries_seconds"] = time.perf_counter() - start
    np.save(args.embeddings, np.asarray(doc_vectors, dtype=np.float32))
    _, indices = exact_top_k(np.asarray(query_vectors, dtype=np.float32), np.asarray(doc_vectors, dtype=np.float32), 100)
    run = {q: {doc_ids[j]: float(100 - r) for r, j in enumerate(indices[i])} for i, q in enumerate(qids)}
    metrics, _ = evaluate_run({q: data.qrels[q] for q in qids}, run, ["ndcg@10", "recall@100"])
    result.update(metrics=metrics, documents=len(docs), queries=len(queries),
                  heavy_modules_imported=[m for m in ("torch", "transformers", "sentence_transformers")
                                          if m in sys.modules])
    args.result.write_text(json.dumps(result, indent=2), encoding="utf-8")


def _encoders(args: argparse.Namespace, result: dict) -> tuple[Callable, Callable]:
    """Document and query encoders for ``--impl`` (setup seconds and, for lean, kernels go into ``result``)."""
    if args.impl == "lean":
        from embedtune.inference.lean import LeanEncoder

        start = time.perf_counter()
        lean = LeanEncoder(args.export_dir, int8=args.backend.endswith("int8"))
        result["setup_seconds"] = round(time.perf_counter() - start, 2)  # compiling the graph
        result["kernels"] = lean.runner.kernels()
        return (lambda texts: lean.encode(texts, "document")), (lambda texts: lean.encode(texts, "query"))
    from embedtune.models import load_model

    model = load_model(None, device="cpu", max_seq_length=args.max_seq_length)
    if args.impl == "plain":
        def encode(texts: list[str]) -> np.ndarray:
            return model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
        return encode, encode
    from embedtune.inference.memory import return_freed_buffers
    from embedtune.inference.search import encode_documents, encode_queries, make_encoder

    result["malloc_tuning"] = return_freed_buffers()  # as `embedtune eval` does (on only with EMBEDTUNE_MALLOC_TUNING=1)
    start = time.perf_counter()
    encoder = make_encoder(model, args.backend)
    result["setup_seconds"] = round(time.perf_counter() - start, 2)  # ONNX export and session start
    return (lambda texts: encode_documents(model, texts, encoder=encoder),
            lambda texts: encode_queries(model, texts, encoder=encoder))


if __name__ == "__main__":
    main()
