"""Small real slices of ../shared/data, written as BEIR folders, for tests that train or encode."""
from __future__ import annotations

import csv
import json
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_beir_slice(src: Path, dst: Path, *, train_qrels: int, test_qrels: int, distractors: int) -> Path:
    """Copy the first N judgments of each split, their queries and documents, plus distractor documents."""
    (dst / "qrels").mkdir(parents=True, exist_ok=True)
    splits = {"train": train_qrels, "test": test_qrels}
    rows: dict[str, list[list[str]]] = {}
    for split, count in splits.items():
        with open(src / "qrels" / f"{split}.tsv", encoding="utf-8") as f:
            rows[split] = list(csv.reader(f, delimiter="\t"))[1:count + 1]
    judged = {r[1] for rs in rows.values() for r in rs}
    asked = {r[0] for rs in rows.values() for r in rs}
    with open(src / "corpus.jsonl", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    keep = [d for d in corpus if d["_id"] in judged] + [d for d in corpus if d["_id"] not in judged][:distractors]
    (dst / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in keep), encoding="utf-8")
    with open(src / "queries.jsonl", encoding="utf-8") as f:
        queries = [line for line in f if json.loads(line)["_id"] in asked]
    (dst / "queries.jsonl").write_text("".join(queries), encoding="utf-8")
    for split, rs in rows.items():
        text = "query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rs)
        (dst / "qrels" / f"{split}.tsv").write_text(text, encoding="utf-8")
    return dst
