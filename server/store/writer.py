"""What both engines share: write requests queued for one writer thread that commits them in groups,
reads on a pool of reader threads, and a committed batch handed back (its events to the hub, each
request its outcome)."""

from __future__ import annotations

import asyncio
import logging
import queue
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from server.model import Event
from server.store.base import ReadTx, Store, WriteTx

T = TypeVar("T")
log = logging.getLogger("huddle.store")

# How many queued write requests share one commit at most.
MAX_BATCH = 128


@dataclass
class Job:
    """One write request waiting for the writer, and its outcome."""

    fn: Callable[[WriteTx], Any]
    future: Future[Any] = field(default_factory=Future)


# A request's result, or the error it failed with.
Outcome = tuple[Job, Any, BaseException | None]


class GroupCommitStore(Store):
    """Reads on `_readers` through the engine's `read_sync`; writes queued on `_queue` for the
    engine's writer thread, which takes them with `_next_batch` and hands them back with `_deliver`.
    `close()` puts None on the queue: the writer stops once what was queued before it is done."""

    _readers: ThreadPoolExecutor
    _queue: queue.Queue[Job | None]

    async def read(self, fn: Callable[[ReadTx], T]) -> T:
        """Run fn in one read transaction on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.read_sync, fn)

    def write_sync(self, fn: Callable[[WriteTx], T]) -> T:
        """Queue fn for the writer and wait for its commit."""
        job = Job(fn)
        self._queue.put(job)
        result: T = job.future.result()
        return result

    async def write(self, fn: Callable[[WriteTx], T]) -> T:
        """Queue fn for the writer; resumes after the commit."""
        job = Job(fn)
        self._queue.put(job)
        result: T = await asyncio.wrap_future(job.future)
        return result

    def _next_batch(self) -> tuple[list[Job], bool] | None:
        """Wait for a request, then take what else is queued (up to MAX_BATCH): the batch, and whether
        the writer is to stop after it; None when it is to stop with nothing left to do."""
        job = self._queue.get()
        if job is None:
            return None
        batch = [job]
        while len(batch) < MAX_BATCH:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                return batch, True
            batch.append(more)
        return batch, False

    def _deliver(self, outcomes: list[Outcome], events: list[Event]) -> None:
        """A batch is durable: its events go to the hub (in id order), then each request gets its outcome."""
        if events and self.on_commit is not None:
            try:
                self.on_commit(events)
            except Exception:
                log.exception("event sink failed")
        for job, result, error in outcomes:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(result)
