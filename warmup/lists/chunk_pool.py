"""Work on chunks of rows across processes, in order, with a bounded amount of it in flight.

Preparing a CSV row (``email-validator`` alone costs about 20 µs an address) is independent per
row, so chunks of rows are prepared in worker processes while the importer parses and inserts.
Results come back in input order. At most ``window`` chunks are in flight, so memory stays flat
however large the file. Small inputs are worked on in-process: a pool costs more than it saves
below a few thousand rows.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.pool import AsyncResult, Pool
from types import TracebackType
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def _settled(work: object) -> None:
    """A worker's start, once ``work`` (unpickled as this call's argument) has imported its
    modules: what the process holds now is frozen out of the cyclic collector, whose full
    collections would otherwise walk it again and again while the chunks' short-lived rows
    come and go."""
    del work
    gc.freeze()


class ChunkPool(Generic[Item, Result]):
    """``work`` (a picklable function: module-level, or a partial of one) on each chunk."""

    def __init__(
        self,
        work: Callable[[list[Item]], list[Result]],
        *,
        processes: int | None = None,
        window: int = 8,
    ) -> None:
        self._work = work
        self._processes = processes if processes is not None else (os.cpu_count() or 1)
        self._window = window
        self._pool: Pool | None = None

    def __enter__(self) -> ChunkPool[Item, Result]:
        if self._processes > 1:
            # spawn, not fork: the importer holds a database connection and a progress thread.
            self._pool = multiprocessing.get_context("spawn").Pool(
                self._processes, initializer=_settled, initargs=(self._work,)
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def map(self, chunks: Iterable[list[Item]]) -> Iterator[list[Result]]:
        """Work on each chunk; yield results chunk by chunk, in order."""
        pool = self._pool
        if pool is None:
            for chunk in chunks:
                yield self._work(chunk)
            return
        pending: deque[AsyncResult[list[Result]]] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(self._work, (chunk,)))
            if len(pending) >= self._window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
