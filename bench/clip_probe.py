"""Groundwork for images (issue 30): does a tiny random CLIP learn text->image retrieval offline on 2 CPU cores?

No CLIP weights install offline, so this builds one from a transformers config (2 layers a tower, 32-d,
a word-level tokenizer over the caption vocabulary, 32x32 images), saves it as a sentence-transformers
folder (sentence-transformers 6 loads CLIP natively: ``Transformer`` with text and image modalities) and
trains it with plain sentence-transformers (MNRL, caption -> image) on synthetic coloured shapes. Held-out
images are drawn afresh; a caption's hit is any held-out image drawn from the same caption.

This is not `embedtune train` on images (that path does not exist yet); it records that the library
stack embedtune builds on can do it here, and at what cost, before the feature is written.
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

COLORS = {"red": (220, 30, 30), "green": (30, 170, 30), "blue": (30, 60, 220), "yellow": (230, 210, 20)}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 6, "large": 11}
POSITIONS = {"top left": (8, 8), "top right": (24, 8), "bottom left": (8, 24), "bottom right": (24, 24),
             "center": (16, 16)}
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


def build_tiny_clip(folder: Path, seed: int) -> None:
    """A random-weight CLIP whose tokenizer knows the caption words, saved where SentenceTransformer loads it."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, PreTrainedTokenizerFast

    words = sorted({w for caption in _all_captions() for w in caption.split()})
    vocab = {w: i for i, w in enumerate([*SPECIALS, *words])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>",
                                                             special_tokens=[("<bos>", 2), ("<eos>", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="<bos>", eos_token="<eos>", model_max_length=32)
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(text_config={**tower, "vocab_size": len(vocab), "max_position_embeddings": 32,
                                     "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3},
                        vision_config={**tower, "image_size": 32, "patch_size": 8}, projection_dim=32)
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(folder)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=fast).save_pretrained(folder)


def _all_captions() -> list[str]:
    return [f"a {z} {c} {s} at the {p}" for c in COLORS for s in SHAPES for z in SIZES for p in POSITIONS]


def draw(rng: random.Random, color: str, shape: str, size: str, position: str):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (32, 32), "white")
    pen = ImageDraw.Draw(image)
    x, y = POSITIONS[position]
    x, y, r = x + rng.randint(-1, 1), y + rng.randint(-1, 1), SIZES[size] // 2 + rng.randint(0, 1)
    if shape == "circle":
        pen.ellipse([x - r, y - r, x + r, y + r], fill=COLORS[color])
    elif shape == "square":
        pen.rectangle([x - r, y - r, x + r, y + r], fill=COLORS[color])
    else:
        pen.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=COLORS[color])
    return image


def sample(count: int, seed: int) -> list[tuple[str, object]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
        size, position = rng.choice(list(SIZES)), rng.choice(list(POSITIONS))
        pairs.append((f"a {size} {color} {shape} at the {position}", draw(rng, color, shape, size, position)))
    return pairs


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
