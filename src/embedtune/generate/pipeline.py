"""``generate_pairs``: a corpus in, filtered (query, positive) pairs out, as ``embedtune train`` reads them."""
from __future__ import annotations

import json
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune import __version__
from embedtune._io import write_text_atomic
from embedtune._writable import check_writable
from embedtune.errors import EmbedtuneError, OutputExistsError
from embedtune.generate.config import GenerateConfig
from embedtune.generate.corpus import Passage, read_passages
from embedtune.generate.filters import dedupe, length_filter, round_trip
from embedtune.generate.offline import GeneratedPair, ict_pairs, title_pair
from embedtune.generate.progress import ProgressFile

logger = logging.getLogger(__name__)


class GenerationError(EmbedtuneError):
    """Generation produced nothing usable, or stopped before every passage was done."""


@dataclass
class GenerateResult:
    """The kept pairs and the account of what was made, dropped and why."""

    pairs: list[GeneratedPair]
    config: dict[str, Any]
    passages: int = 0
    generated: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> pairs
    llm: dict[str, Any] | None = None  # requests, tokens, failed passages of this run
    stopped: str = ""  # why generation ended before every passage was done ("" when complete)
    seconds: float = 0.0

    def save(self, path: str | Path) -> None:
        """JSONL with query, positive, doc_id and method: ``embedtune train --data`` reads it as it is."""
        write_text_atomic(path, "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in self.pairs))

    def summary(self) -> dict[str, Any]:
        return {"embedtune_version": __version__, "passages": self.passages, "generated": self.generated,
                "kept": len(self.pairs), "kept_by_method": dict(Counter(p.method for p in self.pairs)),
                "dropped": dict(self.dropped), "llm": self.llm, "stopped": self.stopped or None,
                "seconds": round(self.seconds, 2), "config": self.config}

    def to_table(self) -> str:
        methods = ", ".join(f"{n} {m}" for m, n in Counter(p.method for p in self.pairs).most_common())
        lines = [f"{self.generated} pairs generated from {self.passages} passages -> {len(self.pairs)} kept "
                 f"({methods or 'none'}) in {self.seconds:.1f}s"]
        lines += [f"  dropped, {reason}: {count}" for reason, count in self.dropped.most_common()]
        if self.llm:
            lines.append(f"  llm: {self.llm['requests']} requests, {self.llm['tokens']} tokens, "
                         f"{self.llm['failed']} passages failed")
        if self.stopped:
            lines.append(f"  stopped early: {self.stopped}")
        return "\n".join(lines)


def progress_path(out: str | Path) -> Path:
    """Where a resumable method keeps its per-passage results: beside the output file."""
    out = Path(out)
    return out.with_name(out.name + ".progress.jsonl")


def generate_pairs(corpus: str | Path | list[Passage], config: GenerateConfig | None = None, *,
                   out: str | Path | None = None, overwrite: bool = False,
                   show_progress: bool = False) -> GenerateResult:
    """Generate pseudo-queries for every passage of ``corpus``, filter them, and write ``out``.

    LLM and doc2query results go to ``progress_path(out)`` as they arrive, so rerunning the same
    call after a failure or an exhausted budget only asks for the passages still missing. When
    generation stops early, ``out`` still gets the pairs made so far and ``result.stopped`` says why.
    """
    config = config or GenerateConfig()
    start = time.perf_counter()
    if out is not None and Path(out).exists() and not overwrite and not (
            config.resumable and progress_path(out).is_file()):
        raise OutputExistsError(f'"{out}" already exists; pass --overwrite to replace it or choose another --out')
    if out is not None:
        check_writable(out)
    if config.resumable and out is None:
        raise GenerationError(f"method {config.method} keeps its progress beside the output file; give out")
    passages = corpus if isinstance(corpus, list) else read_passages(
        corpus, chunk_size=config.chunk_size, chunk_overlap=config.chunk_overlap)
    result = GenerateResult(pairs=[], config=config.to_dict(), passages=len(passages))
    pairs = _raw_pairs(passages, config, result, out, show_progress)
    result.generated = len(pairs)
    pairs = length_filter(pairs, min_query_words=config.min_query_words, max_query_words=config.max_query_words,
                          min_passage_words=config.min_passage_words, dropped=result.dropped)
    if config.dedupe:
        pairs = dedupe(pairs, result.dropped)
    if config.round_trip != "none":
        model = None
        if config.round_trip == "dense":
            from embedtune.models import load_model

            model = load_model(config.model)
        pairs = round_trip(pairs, passages, method=config.round_trip, k=config.round_trip_k, dropped=result.dropped,
                           model=model, batch_size=config.batch_size, show_progress=show_progress)
    if config.max_pairs is not None and len(pairs) > config.max_pairs:
        keep = set(random.Random(config.seed).sample(range(len(pairs)), config.max_pairs))
        result.dropped[f"over max_pairs={config.max_pairs} (random sample)"] += len(pairs) - config.max_pairs
        pairs = [p for i, p in enumerate(pairs) if i in keep]
    if not pairs:
        reasons = ", ".join(f"{n} {r}" for r, n in result.dropped.most_common()) or "none generated"
        if result.stopped:
            raise GenerationError(f"generation stopped early with no pair made: {result.stopped}")
        raise GenerationError(f"no pair survived generation and filtering ({result.generated} generated from "
                              f"{len(passages)} passages; dropped: {reasons}); loosen the length bounds or "
                              "round_trip_k, or check the corpus")
    result.pairs = pairs
    result.seconds = time.perf_counter() - start
    if out is not None:
        result.save(out)
    logger.info("kept %d of %d generated pairs in %.1fs", len(pairs), result.generated, result.seconds)
    return result


def _raw_pairs(passages: list[Passage], config: GenerateConfig, result: GenerateResult, out: str | Path | None,
               show_progress: bool) -> list[GeneratedPair]:
    if not config.resumable:
        pairs: list[GeneratedPair] = []
        for passage in passages:
            rng = random.Random(f"{config.seed}:{passage.doc_id}")  # a passage's pairs do not depend on the others
            if config.method in ("offline", "ict"):
                pairs += ict_pairs(passage, config.queries_per_doc, config.ict_keep_probability, rng,
                                   min_words=config.min_query_words, max_words=config.max_query_words)
            if config.method in ("offline", "title"):
                pairs += title_pair(passage)
        return pairs
    settings = {k: config.to_dict()[k] for k in ("method", "queries_per_doc", "seed", "llm_url", "llm_model",
                                                 "temperature", "doc2query_model")}
    if config.method == "llm":
        from embedtune.generate.llm import generate_llm_queries, load_prompt

        settings["prompt"] = load_prompt(config.prompt_template)
        progress = ProgressFile(progress_path(out), settings)
        run = generate_llm_queries(passages, config, progress, show_progress=show_progress)
        done = run.queries
        result.llm = {"requests": run.requests, "tokens": run.tokens, "failed": run.failed}
        result.stopped = run.stopped
    else:
        from embedtune.generate.doc2query import generate_doc2query_queries

        done = generate_doc2query_queries(passages, config, ProgressFile(progress_path(out), settings),
                                          show_progress=show_progress)
    missing = sum(p.doc_id not in done for p in passages)
    if missing and not result.stopped:
        result.stopped = f"{missing} passages failed"
    if missing:
        result.stopped += f"; {missing} of {len(passages)} passages still to do: rerun the same command to continue"
    return [GeneratedPair(q, p.full_text, p.doc_id, config.method) for p in passages for q in done.get(p.doc_id, [])]
