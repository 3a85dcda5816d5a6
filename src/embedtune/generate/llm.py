"""Queries from an LLM behind any OpenAI-compatible chat-completions endpoint.

Requests run in a thread pool (I/O bound); each is retried with exponential backoff on timeouts,
connection errors, 429 and 5xx; a per-run budget caps requests and tokens; every passage's
queries are appended to a progress file as they arrive, so a rerun continues where a failure
or the budget stopped it.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from embedtune._optional import require
from embedtune.errors import ConfigError, EmbedtuneError
from embedtune.generate.config import GenerateConfig
from embedtune.generate.corpus import Passage
from embedtune.generate.progress import ProgressFile
from embedtune.progress import progress_bar

logger = logging.getLogger(__name__)

DEFAULT_PROMPT = """You write search queries for a retrieval system.
Read the passage and write {n} different questions or search queries that this passage answers.
Each must make sense on its own, without seeing the passage. Write one per line, no numbering.

Passage:
{passage}
"""
RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
# After this many passages in a row failed every retry, the endpoint is down: stop and let a rerun resume.
CONSECUTIVE_FAILURES_TO_STOP = 8
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\(?\d{1,2}[.):]|Q\d*[.:)]|Query\s*\d*[.:)])\s*", re.IGNORECASE)


class LLMError(EmbedtuneError):
    """The endpoint refused the request in a way retrying cannot fix (bad key, unknown model...)."""


def load_prompt(path: str | None) -> str:
    """The prompt template: the built-in one, or a file that must contain ``{passage}``."""
    if path is None:
        return DEFAULT_PROMPT
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"prompt_template: {path} not found")
    template = file.read_text(encoding="utf-8")
    if "{passage}" not in template:
        raise ConfigError(f"prompt_template: {path} has no {{passage}} placeholder; the passage must go somewhere")
    return template


def render_prompt(template: str, passage: Passage, n: int) -> str:
    # str.replace, not str.format: passages and templates may hold other braces (code, LaTeX, JSON)
    return (template.replace("{passage}", passage.full_text).replace("{title}", passage.title)
            .replace("{n}", str(n)))


def parse_queries(content: str, n: int) -> list[str]:
    """One query per non-empty line, list markers and surrounding quotes removed, at most ``n``."""
    queries = []
    for line in content.splitlines():
        text = _LIST_MARKER.sub("", line).strip().strip('"\'“”').strip()
        if text and not text.endswith(":"):  # "Here are three queries:" is a preamble, not a query
            queries.append(text)
    return queries[:n]


@dataclass
class Budget:
    """Requests and tokens left in this run; shared by the worker threads."""

    max_requests: int | None
    max_tokens: int | None
    requests: int = 0
    tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take_request(self) -> bool:
        with self._lock:
            if self.exhausted():
                return False
            self.requests += 1
            return True

    def add_tokens(self, count: int) -> None:
        with self._lock:
            self.tokens += count

    def exhausted(self) -> bool:
        return ((self.max_requests is not None and self.requests >= self.max_requests)
                or (self.max_tokens is not None and self.tokens >= self.max_tokens))


class BudgetExhausted(Exception):
    """Raised inside a worker when the budget ran out before (a retry of) its request."""


class ChatClient:
    """POSTs one chat completion; retries what can succeed later, raises :class:`LLMError` otherwise."""

    def __init__(self, config: GenerateConfig, budget: Budget, sleep: Callable[[float], None] = time.sleep) -> None:
        require("requests", "llm", "embedtune generate --method llm")  # here: it fails before any work
        url = config.llm_url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else f"{url}/chat/completions"
        self.model = config.llm_model
        self.config = config
        self.budget = budget
        self.sleep = sleep
        key = os.environ.get(config.llm_api_key_env)
        self.headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
        if not key:
            logger.info("%s is not set: requests go without an API key", config.llm_api_key_env)

    def complete(self, prompt: str) -> str:
        import requests

        payload = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                   "temperature": self.config.temperature}
        delay = self.config.retry_backoff
        for attempt in range(self.config.max_retries + 1):
            if not self.budget.take_request():
                raise BudgetExhausted
            last = attempt == self.config.max_retries
            try:
                response = requests.post(self.url, json=payload, headers=self.headers,
                                         timeout=self.config.request_timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise
                logger.debug("%s: %s; retrying in %.1fs", self.url, type(exc).__name__, delay)
            else:
                if response.status_code == 200:
                    return self._content(response)
                if response.status_code not in RETRYABLE_STATUS:
                    raise LLMError(f"{self.url}: HTTP {response.status_code} ({_snippet(response.text)}); "
                                   "check --llm-url, --llm-model and the API key variable")
                if last:
                    raise RuntimeError(f"HTTP {response.status_code} ({_snippet(response.text)})")
                delay = max(delay, _retry_after(response))
                logger.debug("%s: HTTP %d; retrying in %.1fs", self.url, response.status_code, delay)
            self.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def _content(self, response: Any) -> str:
        try:
            body = response.json()
            content = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self.url}: the response is not a chat completion "
                           f"({_snippet(response.text)})") from None
        usage = body.get("usage") or {}
        self.budget.add_tokens(int(usage.get("total_tokens") or 0))
        return content if isinstance(content, str) else ""


def _snippet(text: str) -> str:
    return " ".join(text.split())[:200] or "empty body"


def _retry_after(response: Any) -> float:
    try:
        return min(float(response.headers.get("Retry-After", 0)), 60.0)
    except ValueError:
        return 0.0


@dataclass
class LLMRun:
    """What one run did: queries per passage (with earlier runs' ones), and why it stopped early, if it did."""

    queries: dict[str, list[str]]
    requests: int = 0
    tokens: int = 0
    failed: int = 0
    stopped: str = ""


def generate_llm_queries(passages: list[Passage], config: GenerateConfig, progress: ProgressFile, *,
                         sleep: Callable[[float], None] = time.sleep, show_progress: bool = False) -> LLMRun:
    """Ask the endpoint for ``config.queries_per_doc`` queries per passage not already in ``progress``."""
    template = load_prompt(config.prompt_template)
    budget = Budget(config.max_requests, config.max_total_tokens)
    client = ChatClient(config, budget, sleep)
    todo = [p for p in passages if p.doc_id not in progress.done]
    run = LLMRun(queries=progress.done)
    logger.info("llm: %d passages to do (%d already done), %d requests at a time", len(todo),
                len(passages) - len(todo), config.concurrency)
    bar = progress_bar(len(todo), "llm", "passage", show_bar=show_progress, logger=logger)
    consecutive_failures = 0
    pending: dict[Future, Passage] = {}
    queue = iter(todo)
    with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
        try:
            while True:
                while len(pending) < config.concurrency and not run.stopped and not budget.exhausted():
                    passage = next(queue, None)
                    if passage is None:
                        break
                    prompt = render_prompt(template, passage, config.queries_per_doc)
                    pending[pool.submit(client.complete, prompt)] = passage
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    passage = pending.pop(future)
                    bar.update(1)
                    try:
                        content = future.result()
                    except BudgetExhausted:
                        continue
                    except LLMError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - every retry failed: counted, redone on rerun
                        run.failed += 1
                        consecutive_failures += 1
                        logger.warning("llm: passage %s failed after %d retries (%s)", passage.doc_id,
                                       config.max_retries, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                        if consecutive_failures >= CONSECUTIVE_FAILURES_TO_STOP:
                            run.stopped = (f"{consecutive_failures} passages in a row failed every retry; "
                                           "the endpoint looks down")
                        continue
                    consecutive_failures = 0
                    progress.record(passage.doc_id, parse_queries(content, config.queries_per_doc))
        finally:
            for future in pending:
                future.cancel()
            bar.close()
            progress.close()
    if budget.exhausted() and len(progress.done) < len(passages) and not run.stopped:
        run.stopped = f"budget reached ({budget.requests} requests, {budget.tokens} tokens)"
    run.requests, run.tokens = budget.requests, budget.tokens
    return run
