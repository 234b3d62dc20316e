"""Micro-batching: requests that arrive within a few milliseconds are decoded together.

A request's sentences wait in a queue; the batching loop takes the oldest request, waits up to
``max_wait_s`` after its arrival for more (or until the batch budget of sentences or characters
is full), groups the collected requests by decoding options, and runs one decode per group on
the model's single worker thread. While a batch decodes, the next one gathers, so under load each
decode serves many requests and throughput grows with concurrency. Each request's future gets its
own slice of the results; a decode that fails fails only the requests in it.

Requests that are not ``mergeable`` (sampling, whose random draws depend on the batch) are decoded
alone, so every request gets the answer it would get on an idle server.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Options = TypeVar("Options", bound=Hashable)
Result = TypeVar("Result")
T = TypeVar("T")


class OverloadedError(Exception):
    """The queue already holds as many sentences as the server accepts."""


class ModelWorker:
    """The one thread that runs the model: decodes never overlap, the event loop never blocks."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True)


@dataclass
class _Job(Generic[Options, Result]):
    sentences: Sequence[str]
    options: Options
    mergeable: bool
    arrival: float
    future: asyncio.Future[list[Result]]
    chars: int = field(init=False)

    def __post_init__(self) -> None:
        self.chars = sum(len(sentence) for sentence in self.sentences)


@dataclass
class BatchStats:
    requests: int = 0  # requests answered (with a result or an error)
    sentences: int = 0  # sentences decoded
    decodes: int = 0  # calls of the decode function


class MicroBatcher(Generic[Options, Result]):
    """Collect requests for a few milliseconds and decode them together.

    ``decode(sentences, options)`` must return one result per sentence, in order, and give each
    sentence the same result whatever else is in the batch (true of greedy and beam search).
    """

    def __init__(
        self,
        decode: Callable[[list[str], Options], list[Result]],
        worker: ModelWorker,
        *,
        max_wait_s: float = 0.005,
        max_batch_sentences: int = 64,
        max_batch_chars: int = 8192,
        max_waiting_sentences: int = 4096,
    ) -> None:
        self._decode = decode
        self._worker = worker
        self.max_wait_s = max_wait_s
        self.max_batch_sentences = max_batch_sentences
        self.max_batch_chars = max_batch_chars
        self.max_waiting_sentences = max_waiting_sentences
        self.stats = BatchStats()
        self._waiting: collections.deque[_Job[Options, Result]] = collections.deque()
        self._waiting_sentences = 0
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: list[_Job[Options, Result]] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the batching loop (call from the event loop, e.g. in the app's lifespan)."""
        if self._task is None:
            self._arrived = asyncio.Event()  # bound to the running loop
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for job in [*self._waiting, *self._running]:
            if not job.future.done():
                job.future.cancel()
        self._waiting.clear()
        self._waiting_sentences = 0

    # -- requests ----------------------------------------------------------------------------
    async def submit(
        self, sentences: Sequence[str], options: Options, *, mergeable: bool = True
    ) -> list[Result]:
        """Queue the sentences and wait for their results (in order)."""
        if self._task is None:
            raise RuntimeError("MicroBatcher.start() was not called")
        if self._waiting_sentences + len(sentences) > self.max_waiting_sentences:
            raise OverloadedError(f"more than {self.max_waiting_sentences} sentences are waiting")
        loop = asyncio.get_running_loop()
        job = _Job(sentences, options, mergeable, loop.time(), loop.create_future())
        self._waiting.append(job)
        self._waiting_sentences += len(sentences)
        self._arrived.set()
        return await job.future

    # -- the batching loop -------------------------------------------------------------------
    async def _loop(self) -> None:
        while True:
            batch = await self._next_batch()
            for group in _group(batch):
                await self._run(group)

    async def _next_batch(self) -> list[_Job[Options, Result]]:
        """The oldest request and those that join it within the wait window and the budget."""
        loop = asyncio.get_running_loop()
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        deadline = self._waiting[0].arrival + self.max_wait_s
        while not self._full() and (remaining := deadline - loop.time()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:  # not the builtin TimeoutError on Python 3.10
                break
        batch = [self._waiting.popleft()]
        sentences, chars = len(batch[0].sentences), batch[0].chars
        while self._waiting:
            job = self._waiting[0]
            if (
                sentences + len(job.sentences) > self.max_batch_sentences
                or chars + job.chars > self.max_batch_chars
            ):
                break
            batch.append(self._waiting.popleft())
            sentences, chars = sentences + len(job.sentences), chars + job.chars
        self._waiting_sentences -= sentences
        return batch

    def _full(self) -> bool:
        return (
            sum(len(job.sentences) for job in self._waiting) >= self.max_batch_sentences
            or sum(job.chars for job in self._waiting) >= self.max_batch_chars
        )

    async def _run(self, jobs: list[_Job[Options, Result]]) -> None:
        """One decode for the group; each job's future gets its slice (or the error)."""
        sentences = [sentence for job in jobs for sentence in job.sentences]
        self.stats.decodes += 1
        self.stats.requests += len(jobs)
        self._running = jobs
        try:
            results = await self._worker.run(self._decode, sentences, jobs[0].options)
        except Exception as error:  # a failed decode fails its requests, never the loop
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        finally:
            self._running = []
        self.stats.sentences += len(sentences)
        start = 0
        for job in jobs:
            end = start + len(job.sentences)
            if not job.future.done():  # done = cancelled: the client went away
                job.future.set_result(results[start:end])
            start = end


def _group(jobs: list[_Job[Options, Result]]) -> list[list[_Job[Options, Result]]]:
    """Mergeable jobs grouped by options (first-arrival order); the others alone."""
    groups: dict[Hashable, list[_Job[Options, Result]]] = {}
    for index, job in enumerate(jobs):
        key = ("merge", job.options) if job.mergeable else ("alone", index)
        groups.setdefault(key, []).append(job)
    return list(groups.values())
