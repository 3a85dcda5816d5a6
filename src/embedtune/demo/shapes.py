"""An image-text set made offline: coloured shapes at positions, and a tiny CLIP to tune on it.

No CLIP weights install offline, so ``embedtune demo --images`` builds a CLIP from a transformers
config (random weights, 2 layers a tower, a word-level tokenizer over the caption words) and a
BEIR folder of drawn images with captions such as "a small red circle at the top left". The
captions of a fifth of the (size, colour, shape, position) combinations never appear in training:
the test asks for those, over one fresh image of every combination, so a hit needs the model to
compose what it learnt ("red" from other red shapes, "top left" from other shapes there).
"""
from __future__ import annotations

import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from embedtune._io import write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    from PIL.Image import Image

COLORS = {"red": (220, 30, 30), "green": (30, 170, 30), "blue": (30, 60, 220), "yellow": (230, 210, 20)}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 6, "large": 11}
POSITIONS = {"top left": (8, 8), "top right": (24, 8), "bottom left": (8, 24), "bottom right": (24, 24),
             "center": (16, 16)}
IMAGE_SIZE = 32
_SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")


@dataclass(frozen=True)
class Combination:
    size: str
    color: str
    shape: str
    position: str

    @property
    def caption(self) -> str:
        return f"a {self.size} {self.color} {self.shape} at the {self.position}"


@dataclass(frozen=True)
class ShapesStats:
    train_images: int
    train_captions: int
    test_images: int
    test_captions: int

    def to_dict(self) -> dict[str, int]:
        return {"train_images": self.train_images, "train_captions": self.train_captions,
                "test_images": self.test_images, "test_captions": self.test_captions}


def combinations() -> list[Combination]:
    return [Combination(z, c, s, p) for z in SIZES for c in COLORS for s in SHAPES for p in POSITIONS]


def draw(combination: Combination, rng: random.Random) -> Image:
    """One picture of ``combination``, jittered by a pixel or two so no two drawings are alike."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    image = PILImage.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), "white")
    pen = ImageDraw.Draw(image)
    x, y = POSITIONS[combination.position]
    x, y = x + rng.randint(-1, 1), y + rng.randint(-1, 1)
    r = SIZES[combination.size] // 2 + rng.randint(0, 1)
    fill = COLORS[combination.color]
    if combination.shape == "circle":
        pen.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    elif combination.shape == "square":
        pen.rectangle([x - r, y - r, x + r, y + r], fill=fill)
    else:
        pen.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=fill)
    return image


def build_shapes_folder(out: Path, *, train_images: int = 2000, heldout_fraction: float = 0.2,
                        seed: int = 42) -> ShapesStats:
    """Write a BEIR folder (images under ``images/``; qrels ``train`` and ``test``) into ``out``.

    Train: ``train_images`` drawings of the combinations whose captions are not held out, each
    caption a query judged relevant to its drawings. Test: one fresh drawing of every combination
    in the corpus, and only the held-out captions as queries (one relevant image each).
    """
    rng = random.Random(seed)
    every = combinations()
    heldout = set(rng.sample(range(len(every)), max(1, round(heldout_fraction * len(every)))))
    seen = [c for i, c in enumerate(every) if i not in heldout]
    images = out / "images"
    images.mkdir(parents=True, exist_ok=True)
    corpus: list[dict[str, str]] = []
    qrels: dict[str, list[str]] = {"train": [], "test": []}
    query_ids: dict[str, str] = {}
    for split, drawn in (("train", [rng.choice(seen) for _ in range(train_images)]), ("test", every)):
        for number, combination in enumerate(drawn):
            doc_id = f"{split}-{number}"
            draw(combination, rng).save(images / f"{doc_id}.png")
            corpus.append({"_id": doc_id, "image": f"images/{doc_id}.png"})
            if split == "train" or every.index(combination) in heldout:
                query_id = query_ids.setdefault(combination.caption, f"q{len(query_ids)}")
                qrels[split].append(f"{query_id}\t{doc_id}\t1")
    write_text_atomic(out / "corpus.jsonl", "".join(json.dumps(row) + "\n" for row in corpus))
    write_text_atomic(out / "queries.jsonl", "".join(json.dumps({"_id": q, "text": caption}) + "\n"
                                                     for caption, q in query_ids.items()))
    for split, lines in qrels.items():
        write_text_atomic(out / "qrels" / f"{split}.tsv", "query-id\tcorpus-id\tscore\n" + "\n".join(lines) + "\n")
    stats = ShapesStats(train_images=train_images, train_captions=len(seen), test_images=len(every),
                        test_captions=len(heldout))
    write_json_atomic(out / "build_info.json", {**stats.to_dict(), "seed": seed, "heldout_fraction": heldout_fraction})
    return stats


def build_tiny_clip(folder: Path, seed: int = 42) -> None:
    """A random-weight CLIP whose tokenizer knows the caption words, saved as a sentence-transformers
    folder (sentence-transformers loads CLIP as one Transformer module with text and image inputs)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, PreTrainedTokenizerFast

    words = sorted({word for c in combinations() for word in c.caption.split()})
    vocab = {word: i for i, word in enumerate([*_SPECIAL_TOKENS, *words])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>",
                                                             special_tokens=[("<bos>", 2), ("<eos>", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>",
                                   bos_token="<bos>", eos_token="<eos>", model_max_length=32)
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(text_config={**tower, "vocab_size": len(vocab), "max_position_embeddings": 32,
                                     "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3},
                        vision_config={**tower, "image_size": IMAGE_SIZE, "patch_size": 8}, projection_dim=32)
    torch.manual_seed(seed)
    processor = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE},
                                   crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    with tempfile.TemporaryDirectory() as raw:  # the transformers folder, read once into sentence-transformers
        CLIPModel(config).save_pretrained(raw)
        CLIPProcessor(image_processor=processor, tokenizer=fast).save_pretrained(raw)
        SentenceTransformer(raw, device="cpu").save(str(folder))
