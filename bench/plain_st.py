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


def set_dropout(model, p: float) -> None:
    """Every dropout of the transformer at ``p``, as a user does it: the modules and the config
    (attention reads its probability from the config in transformers' SDPA/eager paths)."""
    transformer = model[0].auto_model
    for module in transformer.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
    for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "attention_dropout", "dropout"):
        if hasattr(transformer.config, key):
            setattr(transformer.config, key, p)


def add_lora(model, r: int = 16, alpha: int = 32, dropout: float = 0.1,
             targets: tuple[str, ...] = ("query", "key", "value", "dense")) -> None:
    """LoRA the way the sentence-transformers docs show it: a peft adapter on the transformer."""
    from peft import LoraConfig, TaskType

    model.add_adapter(LoraConfig(task_type=TaskType.FEATURE_EXTRACTION, r=r, lora_alpha=alpha,
                                 lora_dropout=dropout, target_modules=list(targets)))


def train(model, pairs: list[tuple[str, str]], out_dir: str, *, epochs: float, lr: float,
          batch_size: int = 32, warmup: float = 0.1, seed: int = 42, bf16: bool = False) -> float:
    """Plain MNRL fine-tuning; returns the training wall time in seconds."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    ds = Dataset.from_dict({"anchor": [p[0] for p in pairs], "positive": [p[1] for p in pairs]})
    args = SentenceTransformerTrainingArguments(
        output_dir=out_dir, num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=lr, warmup_steps=warmup, seed=seed, save_strategy="no",
        logging_steps=10, report_to=[], batch_sampler="no_duplicates",
        # bf16 on a CPU: transformers requires use_cpu=True for it (the setting an expert turns on)
        bf16=bf16, use_cpu=bf16 and not torch.cuda.is_available(),
    )
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                         loss=MultipleNegativesRankingLoss(model))
    t0 = time.perf_counter()
    trainer.train()
    return time.perf_counter() - t0


def _main() -> None:
    """``eval`` and ``train`` subcommands so a benchmark can run each in its own process."""
    import argparse

    from sentence_transformers import SentenceTransformer

    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("eval")
    ev.add_argument("--model", required=True)
    ev.add_argument("--data", required=True, type=Path)
    ev.add_argument("--split", default="test")
    ev.add_argument("--max-seq-length", type=int, default=256)
    ev.add_argument("--result", required=True, type=Path)
    tr = sub.add_parser("train")
    tr.add_argument("--model", required=True)
    tr.add_argument("--pairs", required=True, type=Path, help="JSONL of {query, positive}")
    tr.add_argument("--out", required=True)
    tr.add_argument("--epochs", type=float, default=3)
    tr.add_argument("--lr", type=float, default=5e-5)
    tr.add_argument("--batch-size", type=int, default=32)
    tr.add_argument("--warmup", type=float, default=0.1)
    tr.add_argument("--max-seq-length", type=int, default=256)
    tr.add_argument("--seed", type=int, default=42)
    tr.add_argument("--bf16", action="store_true", help="bf16 autocast (bf16=True in the training arguments)")
    tr.add_argument("--dropout", type=float, default=None,
                    help="Set every dropout probability of the transformer (hidden and attention) to this "
                         "[default: the model's own, 0.1 for MiniLM]")
    tr.add_argument("--lora", action="store_true", help="Train a LoRA adapter (r 16, alpha 32, q/k/v/dense)")
    tr.add_argument("--lora-targets", default="query,key,value,dense",
                    help="Comma-separated module names (suffixes) for --lora")
    tr.add_argument("--result", required=True, type=Path)
    args = parser.parse_args()

    model = SentenceTransformer(args.model, device="cpu")
    model.max_seq_length = args.max_seq_length
    if args.command == "eval":
        t0 = time.perf_counter()
        metrics = evaluate(model, *read_beir(args.data, args.split))
        result = {"metrics": metrics, "seconds": time.perf_counter() - t0}
    else:
        with open(args.pairs, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        pairs = [(r["query"], r["positive"]) for r in rows]
        if args.dropout is not None:
            set_dropout(model, args.dropout)
        if args.lora:
            add_lora(model, targets=tuple(args.lora_targets.split(",")))
        seconds = train(model, pairs, args.out + "-checkpoints", epochs=args.epochs, lr=args.lr,
                        batch_size=args.batch_size, warmup=args.warmup, seed=args.seed, bf16=args.bf16)
        model.save(args.out)  # with --lora: the adapter, which SentenceTransformer(path) loads through peft
        result = {"train_seconds": seconds, "pairs": len(pairs), "bf16": args.bf16, "dropout": args.dropout,
                  "examples_per_second": len(pairs) * args.epochs / seconds}
    args.result.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    _main()
