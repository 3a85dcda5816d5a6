"""Settings for ``embedtune generate`` and ``embedtune adapt`` (torch-free, like embedtune.config)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from embedtune.errors import ConfigError

GENERATION_METHODS: tuple[str, ...] = ("offline", "ict", "title", "llm", "doc2query")
ROUND_TRIP_METHODS: tuple[str, ...] = ("bm25", "dense", "none")


@dataclass
class GenerateConfig:
    """How (query, passage) pairs are made from an unlabelled corpus, and which of them are kept."""

    method: str = field(default="offline", metadata={"help": "offline: ict and title pairs (no LLM, no download); "
                                                            "ict: a sentence as the query, the rest of the passage as "
                                                            "the positive; title: title/heading -> passage; llm: an "
                                                            "OpenAI-compatible chat endpoint; doc2query: a seq2seq model."})
    queries_per_doc: int = field(default=1, metadata={"help": "Queries per passage (ict sentences, LLM or doc2query "
                                                              "queries); title pairs add at most one more."})
    ict_keep_probability: float = field(default=0.1, metadata={"help": "ict: chance that the query sentence stays in "
                                                                       "its positive (Lee et al. 2019 keep it 10% of "
                                                                       "the time, so the model still rewards overlap)."})
    min_query_words: int = field(default=4, metadata={"help": "Shortest query kept, in words."})
    max_query_words: int = field(default=64, metadata={"help": "Longest query kept, in words."})
    min_passage_words: int = field(default=16, metadata={"help": "Shortest positive kept, in words."})
    dedupe: bool = field(default=True, metadata={"help": "Drop a query whose normalised text was already generated."})
    round_trip: str = field(default="bm25", metadata={"help": "Round-trip filter: keep a pair only if its positive "
                                                              "ranks in the top round_trip_k for its query under "
                                                              "bm25 or the dense model; none: off."})
    round_trip_k: int = field(default=10, metadata={"help": "Rank the positive must reach in the round trip."})
    model: str | None = field(default=None, metadata={"help": "Model for the dense round trip (default all-MiniLM-L6-v2)."})
    max_pairs: int | None = field(default=None, metadata={"help": "Keep at most this many pairs (a seeded sample, "
                                                                  "taken after the filters); None: all."})
    chunk_size: int = field(default=200, metadata={"help": "Folders of .txt/.md files: words per passage."})
    chunk_overlap: int = field(default=40, metadata={"help": "Words shared by consecutive passages of a file."})
    seed: int = field(default=42, metadata={"help": "Seed for sentence choice, keep decisions and sampling."})
    llm_url: str | None = field(default=None, metadata={"help": "llm: base URL of an OpenAI-compatible API "
                                                                "(e.g. http://localhost:8000/v1)."})
    llm_model: str | None = field(default=None, metadata={"help": "llm: model name sent with every request."})
    llm_api_key_env: str = field(default="OPENAI_API_KEY", metadata={"help": "llm: environment variable holding the API key (unset: no key sent)."})
    prompt_template: str | None = field(default=None, metadata={"help": "llm: a text file with {passage} (and "
                                                                        "optionally {n}, {title}); default: a built-in prompt."})
    concurrency: int = field(default=4, metadata={"help": "llm: requests in flight at once."})
    max_retries: int = field(default=4, metadata={"help": "llm: retries of a failed request (timeouts, 429, 5xx)."})
    retry_backoff: float = field(default=1.0, metadata={"help": "llm: seconds before the first retry, doubled each time."})
    request_timeout: float = field(default=60.0, metadata={"help": "llm: seconds to wait for one response."})
    temperature: float = field(default=0.7, metadata={"help": "llm: sampling temperature."})
    max_requests: int | None = field(default=None, metadata={"help": "llm: budget, requests per run; None: no limit."})
    max_total_tokens: int | None = field(default=None, metadata={"help": "llm: budget, tokens per run (as the "
                                                                         "endpoint reports them); None: no limit."})
    doc2query_model: str | None = field(default=None, metadata={"help": "doc2query: a seq2seq model (folder or hub "
                                                                        "id, e.g. doc2query/msmarco-t5-base-v1)."})
    batch_size: int = field(default=16, metadata={"help": "doc2query and the dense round trip: texts per batch."})

    def __post_init__(self) -> None:
        if self.method not in GENERATION_METHODS:
            raise ConfigError(f'unknown generation method "{self.method}" (choose one of: '
                              f'{", ".join(GENERATION_METHODS)})')
        if self.round_trip not in ROUND_TRIP_METHODS:
            raise ConfigError(f'unknown round_trip "{self.round_trip}" (choose one of: {", ".join(ROUND_TRIP_METHODS)})')
        positive = {"queries_per_doc": self.queries_per_doc, "min_query_words": self.min_query_words,
                    "max_query_words": self.max_query_words, "min_passage_words": self.min_passage_words,
                    "round_trip_k": self.round_trip_k, "chunk_size": self.chunk_size,
                    "concurrency": self.concurrency, "batch_size": self.batch_size,
                    "request_timeout": self.request_timeout}
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name} must be positive, got {value}")
        for name in ("max_pairs", "max_requests", "max_total_tokens"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"{name} must be positive (or unset for no limit), got {value}")
        if self.max_query_words < self.min_query_words:
            raise ConfigError(f"max_query_words ({self.max_query_words}) is below min_query_words "
                              f"({self.min_query_words})")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise ConfigError(f"chunk_overlap must be in [0, chunk_size={self.chunk_size}), got {self.chunk_overlap}")
        if not 0.0 <= self.ict_keep_probability <= 1.0:
            raise ConfigError(f"ict_keep_probability must be in [0, 1], got {self.ict_keep_probability}")
        if self.max_retries < 0 or self.retry_backoff < 0:
            raise ConfigError(f"max_retries and retry_backoff must be >= 0, got {self.max_retries} and "
                              f"{self.retry_backoff}")
        if self.method == "llm" and not (self.llm_url and self.llm_model):
            raise ConfigError("method llm needs llm_url and llm_model (--llm-url, --llm-model)")
        if self.method != "llm" and (self.llm_url or self.llm_model):
            raise ConfigError(f'llm_url/llm_model are set but method is "{self.method}"; use --method llm')
        if self.method == "doc2query" and not self.doc2query_model:
            raise ConfigError("method doc2query needs doc2query_model (--doc2query-model NAME)")
        if self.method != "doc2query" and self.doc2query_model:
            raise ConfigError(f'doc2query_model is set but method is "{self.method}"; use --method doc2query')

    @property
    def resumable(self) -> bool:
        """Slow, paid methods keep per-passage results on disk so a rerun skips what is done."""
        return self.method in ("llm", "doc2query")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


HYBRID_TEACHER = "hybrid"  # embedtune.training.hybrid_teacher.HYBRID, named here without importing numpy
NO_TEACHER = "none"
PSEUDO_LABEL_LOSSES = ("margin_kl", "margin_mse")  # the first is the default for teachers that can run it


@dataclass
class AdaptConfig:
    """The parts of ``embedtune adapt`` that are not generation, mining or training settings."""

    heldout_fraction: float = field(default=0.1, metadata={"help": "Share of documents whose generated queries are "
                                                                   "held out to score the model before and after."})
    max_heldout_queries: int = field(default=300, metadata={"help": "Upper bound on held-out queries."})
    eval_corpus_size: int = field(default=2000, metadata={"help": "Documents searched in the held-out evaluation "
                                                                  "(every judged one plus a fixed random sample)."})
    mine: bool = field(default=True, metadata={"help": "Mine hard negatives for the generated queries."})
    cross_encoder: str | None = field(default=None, metadata={"help": "GPL-style pseudo-labels: a cross-encoder (or "
                                                                      "bi-encoder) teacher scores each mined (query, "
                                                                      "positive, negative) row and training distils "
                                                                      "its margins with MarginMSE."})
    teacher: str | None = field(default=None, metadata={"help": "GPL-style pseudo-labels from this teacher: hybrid "
                                                                "(BM25 fused with the model being adapted; nothing to "
                                                                "download), hybrid:MODEL, a cross-encoder or "
                                                                "bi-encoder, or none (contrastive training on the "
                                                                "mined rows). Default: hybrid when mining. "
                                                                "cross_encoder is the same setting's first name."})
    loss: str | None = field(default=None, metadata={"help": "How the teacher's pseudo-labels are learnt: margin_kl "
                                                             "(its margins on the mined negatives and its ranking "
                                                             "of every document in the batch; bi-encoder or hybrid "
                                                             "teachers) or margin_mse (the margins alone). Default: "
                                                             "margin_kl, margin_mse for a cross-encoder."})
    seed: int = field(default=42, metadata={"help": "Seed for the held-out split."})

    @property
    def pseudo_label_teacher(self) -> str | None:
        """The teacher whose margins label the mined rows, or None for contrastive training.

        ``cross_encoder`` (the setting's first name) or ``teacher``; unset, ``hybrid`` when mining: on
        SciFact train queries (a dev set; adapt itself saw no labels), contrastive training on the
        generated rows lost 0.014 nDCG@10 where distilling the hybrid teacher gained 0.003.
        """
        if self.cross_encoder is not None:
            return self.cross_encoder
        if self.teacher is None:
            return HYBRID_TEACHER if self.mine else None
        return None if self.teacher == NO_TEACHER else self.teacher

    def __post_init__(self) -> None:
        if not 0.0 < self.heldout_fraction < 1.0:
            raise ConfigError(f"heldout_fraction must be between 0 and 1 (exclusive), got {self.heldout_fraction}")
        for name in ("max_heldout_queries", "eval_corpus_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.loss not in (None, *PSEUDO_LABEL_LOSSES):
            raise ConfigError(f'unknown adapt loss "{self.loss}" (choose one of: {", ".join(PSEUDO_LABEL_LOSSES)})')
        named_teacher = self.teacher not in (None, NO_TEACHER)
        if named_teacher and self.cross_encoder is not None:
            raise ConfigError("teacher and cross_encoder are the same setting: give one of them")
        if (named_teacher or self.cross_encoder is not None) and not self.mine:
            given = "teacher" if named_teacher else "cross_encoder"
            raise ConfigError(f"{given}: GPL pseudo-labels score mined hard negatives; drop --no-mine")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
