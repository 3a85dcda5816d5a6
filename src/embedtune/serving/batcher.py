"""Micro-batching: concurrent requests wait a few milliseconds and are encoded together.

One forward pass over 32 texts costs far less than 32 passes over one (the matrix multiplies
fill the cores), so under load a server that gathers what arrives within ``wait_s`` answers
more requests per second at about the same latency. Encoding runs on one worker thread: the
model is used by one batch at a time and the event loop stays free to accept requests.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

EncodeFn = Callable[[list[str], str], np.ndarray]


@dataclass
class _Job:
    texts: list[str]
    role: str
    future: asyncio.Future = field(repr=False)


@dataclass
class BatchStats:
    """Counters a client can read from ``/health``: requests served and the batches they shared."""

    requests: int = 0
    texts: int = 0
    batches: int = 0
    largest_batch: int = 0


class MicroBatcher:
    """Queue of encoding jobs; a background task groups them (per role) up to ``max_texts``."""

    def __init__(self, encode: EncodeFn, *, max_texts: int = 64, wait_s: float = 0.005) -> None:
        self.encode, self.max_texts, self.wait_s = encode, max_texts, wait_s
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedtune-encode")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="embedtune-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._executor.shutdown(wait=True)

    async def submit(self, texts: list[str], role: str = "document") -> np.ndarray:
        """Embeddings of ``texts`` (float32 rows), computed in a batch shared with concurrent callers."""
        if self._queue is None:
            raise RuntimeError("MicroBatcher.start() was not awaited")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(texts, role, future))
        return await future

    async def run_in_worker(self, func: Callable, *args):  # noqa: ANN201
        """Run ``func`` on the encoding thread (e.g. an index search), in turn with the batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, func, *args)

    async def _run(self) -> None:
        assert self._queue is not None  # set by start(); not user input
        while True:
            jobs = [await self._queue.get()]
            size = len(jobs[0].texts)
            deadline = time.monotonic() + self.wait_s
            while size < self.max_texts:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                jobs.append(job)
                size += len(job.texts)
            for role in dict.fromkeys(j.role for j in jobs):
                await self._encode_group([j for j in jobs if j.role == role], role)

    async def _encode_group(self, jobs: list[_Job], role: str) -> None:
        texts = [t for j in jobs for t in j.texts]
        try:
            vectors = await self.run_in_worker(self.encode, texts, role)
        except Exception as exc:  # every waiting request gets the error, the loop keeps serving
            logger.exception("encoding a batch of %d texts failed", len(texts))
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self.stats.batches += 1
        self.stats.requests += len(jobs)
        self.stats.texts += len(texts)
        self.stats.largest_batch = max(self.stats.largest_batch, len(texts))
        start = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(vectors[start:start + len(job.texts)])
            start += len(job.texts)
