"""Groundwork for images (issue 30): does a tiny random CLIP learn text->image retrieval offline on 2 CPU cores?

No CLIP weights install offline, so this builds one from a transformers config (2 layers a tower, 32-d,
a word-level tokenizer over the caption vocabulary, 32x32 images: ``embedtune.demo.shapes``, which the
image demo uses too), saved as a sentence-transformers folder (sentence-transformers 6 loads CLIP
natively: ``Transformer`` with text and image modalities), and trains it with plain sentence-transformers
(MNRL, caption -> image) on synthetic coloured shapes. Held-out images are drawn afresh; a caption's hit
is any held-out image drawn from the same caption.

It was written before `embedtune train` read images, to record that the library stack embedtune builds
on can do it here and at what cost; ``embedtune demo --images`` (bench/demo.py --images) is the
embedtune run.
"""
from __future__ import annotations

import argparse
import random
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _harness import ROOT, Results

from embedtune.demo.shapes import build_tiny_clip, combinations, draw

def sample(count: int, seed: int) -> list[tuple[str, object]]:
    """``count`` (caption, drawing) pairs of random combinations (embedtune.demo.shapes draws them)."""
    rng = random.Random(seed)
    every = combinations()
    return [(c.caption, draw(c, rng)) for c in (rng.choice(every) for _ in range(count))]


def recall_at_1(model, pairs: list[tuple[str, object]]) -> float:
    """Each distinct caption searches the held-out images; a hit is an image drawn from that caption."""
    captions = sorted({c for c, _ in pairs})
    queries = model.encode(captions, normalize_embeddings=True)
    images = model.encode([image for _, image in pairs], normalize_embeddings=True)
    best = (queries @ images.T).argmax(axis=1)
    return float(np.mean([pairs[j][0] == caption for caption, j in zip(captions, best)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-pairs", type=int, default=2000)
    parser.add_argument("--test-images", type=int, default=300)
    parser.add_argument("--epochs", type=float, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--result", type=Path, default=ROOT / "bench" / "results" / "clip_probe.json")
    args = parser.parse_args()

    from datasets import Dataset
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    results = Results(args.result, "python bench/" + Path(__file__).name + " " + shlex.join(sys.argv[1:]))
    with tempfile.TemporaryDirectory() as tmp:
        build_tiny_clip(Path(tmp) / "tiny-clip", args.seed)
        model = SentenceTransformer(str(Path(tmp) / "tiny-clip"), device="cpu")
        train, test = sample(args.train_pairs, args.seed), sample(args.test_images, args.seed + 1)
        before = recall_at_1(model, test)
        data = Dataset.from_dict({"anchor": [c for c, _ in train], "positive": [image for _, image in train]})
        training = SentenceTransformerTrainingArguments(
            output_dir=str(Path(tmp) / "checkpoints"), num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size, learning_rate=args.lr, warmup_steps=0.1, seed=args.seed,
            save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True)
        start = time.perf_counter()
        SentenceTransformerTrainer(model=model, args=training, train_dataset=data,
                                   loss=MultipleNegativesRankingLoss(model)).train()
        seconds = time.perf_counter() - start
        after = recall_at_1(model, test)
    results.record("tiny_clip_shapes", {
        "recall@1_before": round(before, 4), "recall@1_after": round(after, 4), "gain": round(after - before, 4),
        "chance": round(1 / len({c for c, _ in test}), 4), "train_seconds": round(seconds, 1),
        "train_pairs": args.train_pairs, "test_images": args.test_images, "epochs": args.epochs, "lr": args.lr,
        "batch_size": args.batch_size})
    print(results.data["steps"]["tiny_clip_shapes"])


if __name__ == "__main__":
    main()
