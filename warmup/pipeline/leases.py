"""The leases of the batches a process is running, kept alive while the process lives.

A claim's lease (``WARMUP_QUEUE_LEASE_SECONDS``) covers a batch's wait in the queue. Once a
process starts the batch, its rows are held for a short live lease instead, renewed every third
of it (a heartbeat), so that:

- a live process's rows never lapse, whatever they wait for (a connection, a throttle, a
  store that is briefly away), and housekeeping never takes them back from under it;
- a dead process's rows lapse within one live lease, and come back to be sent in seconds, not
  after the whole claim lease.

When the heartbeat cannot reach the store, the deadlines it last set stand, and each batch stops
starting sends before them (its lease safety), as it always has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from warmup.clock import Clock
from warmup.ledger.store import LedgerStore

log = logging.getLogger(__name__)


@dataclass
class _Held:
    rows: Sequence[int]
    until: datetime


class LiveLeases:
    def __init__(self, ledger: LedgerStore, clock: Clock, seconds: float) -> None:
        self._ledger = ledger
        self._clock = clock
        self.seconds = seconds  # the live lease, in the clock's seconds
        self._held: dict[str, _Held] = {}
        self._keeper: asyncio.Task[None] | None = None

    def _next_deadline(self) -> datetime:
        return self._clock.now() + timedelta(seconds=self.seconds)

    async def hold(self, owner: str, rows: Sequence[int], claimed_until: datetime) -> None:
        """Start holding a batch's rows (from its process's event loop)."""
        until = self._next_deadline()
        try:
            await asyncio.to_thread(self._ledger.hold, rows, owner, until)
        except SQLAlchemyError as exc:
            log.warning("batch %s: could not take its live lease: %s", owner, exc)
            until = claimed_until  # the claim's lease stands
        self._held[owner] = _Held(rows, until)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep())

    def release(self, owner: str) -> None:
        self._held.pop(owner, None)

    def until(self, owner: str) -> datetime | None:
        held = self._held.get(owner)
        return held.until if held is not None else None

    async def renew(self) -> None:
        """One heartbeat: every held batch's rows until one live lease from now."""
        if not self._held:
            return
        held = dict(self._held)
        until = self._next_deadline()
        try:
            await asyncio.to_thread(self._renew, held, until)
        except SQLAlchemyError as exc:
            log.warning("could not renew the live leases (they stand until they lapse): %s", exc)
            return
        for lease in held.values():
            lease.until = until

    def _renew(self, held: dict[str, _Held], until: datetime) -> None:
        for owner, lease in held.items():
            self._ledger.hold(lease.rows, owner, until)

    async def stop(self) -> None:
        """Stop the heartbeat (the process is closing: what it still holds lapses)."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper

    async def _keep(self) -> None:
        while self._held:
            await asyncio.sleep(self._clock.real_seconds(self.seconds / 3))
            await self.renew()
