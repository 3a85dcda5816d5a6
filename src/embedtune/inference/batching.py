"""Tokenise once, sort by token length, and cut batches by a token budget.

Padding is wasted arithmetic: a batch of 32 texts padded to its longest member spends every
pad position in every layer. Sorting by the real token count and filling each batch up to a
budget of (batch rows × padded length) tokens keeps padding near zero and lets short texts
travel in large batches, while the results stay exactly those of per-text encoding.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

TOKENIZE_CHUNK = 1024
# Widths a batch may be padded to for an engine that keeps state per input shape: four per doubling
# of length (steps of 8 up to 64 tokens, of 16 up to 128, ...), so padding adds at most a quarter of
# a batch's length and a corpus of any size runs on a few dozen shapes.
WIDTHS_PER_DOUBLING = 4
MIN_WIDTH_STEP = 8


@dataclass(frozen=True)
class Tokenized:
    """Unpadded token ids of each text (plus token type ids where the model uses them)."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray] | None

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64, count=len(self.input_ids))


@dataclass(frozen=True)
class Batch:
    """Rows of the original order (``index``) and their padded model inputs."""

    index: np.ndarray
    inputs: dict[str, np.ndarray]

    @property
    def tokens(self) -> int:
        return int(self.inputs["attention_mask"].sum())

    @property
    def padded_tokens(self) -> int:
        return int(self.inputs["attention_mask"].size)


def tokenize(model: SentenceTransformer, texts: list[str], prompt: str | None = None) -> Tokenized:
    """The exact tokens sentence-transformers would feed the model, with padding stripped."""
    input_ids: list[np.ndarray] = []
    token_types: list[np.ndarray] = []
    for start in range(0, len(texts), TOKENIZE_CHUNK):
        features = model.preprocess(texts[start:start + TOKENIZE_CHUNK], prompt=prompt)
        ids = features["input_ids"].numpy()
        # The mask, not a length: decoder tokenizers pad on the left.
        real = features["attention_mask"].numpy().astype(bool)
        types = features.get("token_type_ids")
        types = types.numpy() if types is not None else None
        for row in range(len(ids)):
            input_ids.append(ids[row, real[row]])
            if types is not None:
                token_types.append(types[row, real[row]])
    return Tokenized(input_ids, token_types if token_types else None)


def token_budget_batches(tokenized: Tokenized, max_tokens: int, pad_id: int = 0,
                         max_rows: int = 512, ladder_up_to: int | None = None) -> Iterator[Batch]:
    """Batches of similar length, longest first, each holding at most ``max_tokens`` padded tokens.

    With ``ladder_up_to`` (the model's longest input) each batch is padded up to a width on the
    ladder of ``ladder_width``. OpenVINO keeps compiled kernels and buffers for every input shape it
    has run, so its memory grew with the number of distinct lengths in a corpus: on the 5,183 SciFact
    abstracts the ladder makes 8 shapes of 130, and the int8 encode without PyTorch peaked at 0.71 GB
    instead of 0.99 GB (bench/results/speed_encode_ladder.json).
    """
    lengths = tokenized.lengths
    order = np.argsort(-lengths, kind="stable")
    start = 0
    while start < len(order):
        longest = int(lengths[order[start]])
        width = ladder_width(longest, ladder_up_to) if ladder_up_to else longest
        rows = max(1, min(max_rows, max_tokens // max(width, 1)))
        index = order[start:start + rows]
        yield Batch(index=index, inputs=_pad(tokenized, index, width, pad_id))
        start += rows


def ladder_width(length: int, limit: int) -> int:
    """``length`` rounded up to the next of ``WIDTHS_PER_DOUBLING`` widths per doubling, never past
    ``limit`` (a model cannot take more positions than it has) nor below ``length``."""
    step = max(MIN_WIDTH_STEP, (1 << max(length - 1, 0).bit_length()) // (2 * WIDTHS_PER_DOUBLING))
    return max(length, min(-(-length // step) * step, limit))


def _pad(tokenized: Tokenized, index: np.ndarray, width: int, pad_id: int) -> dict[str, np.ndarray]:
    ids = np.full((len(index), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(index), width), dtype=np.int64)
    types = np.zeros((len(index), width), dtype=np.int64) if tokenized.token_type_ids is not None else None
    for row, i in enumerate(index):
        length = len(tokenized.input_ids[i])
        ids[row, :length] = tokenized.input_ids[i]
        mask[row, :length] = 1
        if types is not None:
            types[row, :length] = tokenized.token_type_ids[i]
    inputs = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        inputs["token_type_ids"] = types
    return inputs
