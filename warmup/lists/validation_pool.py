"""Address validation across processes, in order, with a bounded amount of work in flight.

``email-validator`` costs about 20 µs an address, most of the import's time; it is independent
per row, so chunks of addresses are validated in worker processes while the importer parses and
inserts. Results come back in input order. At most ``window`` chunks are in flight, so memory
stays flat however large the file. Small inputs are validated in-process: a pool costs more
than it saves below a few thousand rows.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.pool import AsyncResult, Pool
from types import TracebackType

from warmup.addresses import InvalidAddress, normalise_address

Checked = tuple[str | None, str]  # (normalised address, "") or (None, reason)


def validate_chunk(raw: list[str], check_mx: bool) -> list[Checked]:
    results: list[Checked] = []
    for text in raw:
        try:
            results.append((normalise_address(text, check_mx=check_mx), ""))
        except InvalidAddress as exc:
            results.append((None, f"invalid address: {exc}"))
    return results


class AddressValidator:
    def __init__(
        self, *, check_mx: bool = False, processes: int | None = None, window: int = 8
    ) -> None:
        self._check_mx = check_mx
        self._processes = processes if processes is not None else (os.cpu_count() or 1)
        self._window = window
        self._pool: Pool | None = None

    def __enter__(self) -> AddressValidator:
        if self._processes > 1:
            # spawn, not fork: the importer holds a database connection and a progress thread.
            self._pool = multiprocessing.get_context("spawn").Pool(self._processes)
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

    def map(self, chunks: Iterable[list[str]]) -> Iterator[list[Checked]]:
        """Validate each chunk; yield results chunk by chunk, in order."""
        pool = self._pool
        if pool is None:
            for chunk in chunks:
                yield validate_chunk(chunk, self._check_mx)
            return
        pending: deque[AsyncResult[list[Checked]]] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(validate_chunk, (chunk, self._check_mx)))
            if len(pending) >= self._window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
