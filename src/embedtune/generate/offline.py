"""Pseudo-queries without an LLM or a download: the inverse cloze task and title -> passage.

ICT (Lee et al. 2019, "Latent Retrieval for Weakly Supervised Open Domain QA"): a sentence of
a passage is the query and the rest of the passage its positive. The sentence is removed most
of the time, so the model must match meaning rather than copied words, and kept with a small
probability, so it does not learn to avoid lexical overlap altogether.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from embedtune.generate.corpus import Passage
from embedtune.sentences import split_sentences


@dataclass(frozen=True)
class GeneratedPair:
    """One (query, positive) pair and where it came from."""

    query: str
    positive: str
    doc_id: str
    method: str

    def to_dict(self) -> dict[str, str]:
        return {"query": self.query, "positive": self.positive, "doc_id": self.doc_id, "method": self.method}


def ict_pairs(passage: Passage, count: int, keep_probability: float, rng: random.Random, *,
              min_words: int, max_words: int) -> list[GeneratedPair]:
    """Up to ``count`` ICT pairs, from distinct sentences within the word bounds.

    A passage of one sentence gives none: without the sentence nothing is left to retrieve.
    """
    sentences = split_sentences(passage.text)
    if len(sentences) < 2:
        return []
    eligible = [i for i, s in enumerate(sentences) if min_words <= len(s.split()) <= max_words]
    pairs = []
    for i in sorted(rng.sample(eligible, min(count, len(eligible)))):
        keep = rng.random() < keep_probability
        context = " ".join(s for j, s in enumerate(sentences) if keep or j != i)
        positive = f"{passage.title} {context}".strip()
        pairs.append(GeneratedPair(sentences[i], positive, passage.doc_id, "ict"))
    return pairs


def title_pair(passage: Passage) -> list[GeneratedPair]:
    """Title (or Markdown heading) -> the passage without it; none when either part is missing."""
    if not passage.title or not passage.text:
        return []
    return [GeneratedPair(passage.title, passage.text, passage.doc_id, "title")]
