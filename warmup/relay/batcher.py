"""Group commit for the relay: every message that arrives while one group is being stored
goes into the next group, one transaction for all of them.

A ``250`` must wait for the message to be durable, and on PostgreSQL each commit waits for
its log to reach the disk. Committing messages one by one caps the relay at a few hundred a
second whatever the CPU; committing what queued up meanwhile costs one flush per group. Each
client still hears ``250`` only after its own message is committed. A group that fails is
stored again one message at a time, so that one bad message cannot refuse its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_GROUP = 200


class GroupCommit(Generic[T]):
    def __init__(self, store: Callable[[Sequence[T]], list[int]], max_group: int = MAX_GROUP):
        self._store = store
        self._max_group = max_group
        self._waiting: list[tuple[T, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> int:
        """Store ``item`` (with whatever else is waiting); its id once committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._waiting:
            group = self._waiting[: self._max_group]
            del self._waiting[: self._max_group]
            await self._store_group(group)

    async def _store_group(self, group: list[tuple[T, asyncio.Future[int]]]) -> None:
        try:
            ids = await asyncio.to_thread(self._store, [item for item, _ in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            log.warning(
                "storing %d relayed messages together failed (%s): one by one", len(group), exc
            )
            for one in group:
                await self._store_group([one])
            return
        for (_, future), message_id in zip(group, ids, strict=True):
            if not future.done():
                future.set_result(message_id)


def _settle(future: asyncio.Future[int], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
