"""Sending one batch: gate, permits, suppression, render, send, record.

A process's batches share its ``concurrency`` send slots (:class:`SendSlots`): a worker's
task returns once every row of its batch is out, and the next batch starts in the slots the
last answers free; rows are readied ahead of a free slot, so a slot's next request leaves as
soon as it frees. Before every send the gate is asked (a paused domain or campaign gives its
rows back at once) and permits are taken from the global limiter for as many rows as there is
room for, per provider group, in one call each. A retry of a send takes a fresh permit first,
so a permit never stands for a request made seconds later.

Right before rows are posted they are marked ``sending`` (from then on only ACS can say whether
they arrived) and looked up in the suppression list, at most a second before their request
leaves: an address suppressed after the campaign started, by any path, is not sent. Results go
to the ledger as they come, at least every second and every ``flush_every`` rows, so a crash
leaves few rows in doubt. Rows not sent (paused, lease nearly over, throttled) go back to
``pending``; a row whose request got no answer becomes ``verifying``, and is sent again only
after ACS says it does not know its Operation-Id.

Being ``sending`` does not make a row doubtful after a crash: right before a request may leave
(after the row got its wire slot, or over SMTP a connection) the row is marked in the batch's
wire journal, and its result is noted there once the answer comes (:mod:`warmup.journal`).
A throttle seen by this process, a pause, a lapsing lease or a sealed journal keeps it from
leaving at that last moment (:class:`~warmup.errors.NotSent`): it goes back to ``pending``.
A store that is away keeps results in memory and writes them when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from warmup.campaigns.compose import Composer
from warmup.clock import Clock
from warmup.domains.record import DomainRecord
from warmup.errors import (
    AmbiguousSendError,
    ContentError,
    NotSent,
    PermanentSendError,
    SendError,
    ThrottledError,
    TransportSetupError,
)
from warmup.journal.base import JournalError
from warmup.ledger.states import LedgerState
from warmup.ledger.store import LedgerStore, SendResult, WorkItem
from warmup.pipeline.dispatch import Batch
from warmup.pipeline.gate import Gate
from warmup.pipeline.leases import LiveLeases
from warmup.pipeline.send_limits import send_limits, stopped_groups
from warmup.pipeline.wire_log import WireLog, encode
from warmup.ratelimit.base import Limiter
from warmup.sending.sender import MessageSender
from warmup.tracing import span

log = logging.getLogger(__name__)
# Stop starting sends this long before the lease ends: a fifth of the shorter lease (the run
# bound or the live lease), at most 10 s. The live lease is renewed every third of it, so a
# live batch always has two thirds of it ahead: more than the safety.
MAX_LEASE_SAFETY = 10.0
# A suppression list look-up is used for at most this long (real seconds) before a send.
SUPPRESSION_FRESH = 1.0
# Results wait at most this long (real seconds) before they are written.
FLUSH_SECONDS = 1.0
# Which of these addresses are suppressed at that time, with the reason.
SuppressedAmong = Callable[[Collection[str], datetime], Mapping[str, str]]
# What a store that is away for a while (a database restart, a failover) raises: retried.
STORE_AWAY = (OperationalError, InterfaceError)


async def while_store_away(seconds: float, call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)`` in a thread, again while the store is away (a database restart, a
    failover), for up to ``seconds`` (real): such a restart delays work, it does not fail it."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(STORE_AWAY),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        stop=stop_after_delay(max(seconds, 1.0)),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await asyncio.to_thread(call, *args)
    raise AssertionError("unreachable: tenacity re-raises the last error")


class GiveBack(Exception):
    """Stop trying this row now; it goes back to pending (the reason is kept)."""


class SuppressedNow(Exception):
    """The address was suppressed while its send waited: it is not sent."""


class SendSlots:
    """The sends a process has under way, whichever batch they belong to: the tail of one
    batch and the start of the next share them, so a process's slots do not sit idle while a
    batch waits for its last answers. Used from one event loop only (no locking).

    At most ``size`` requests are on the wire at once. Up to as many rows again are readied
    meanwhile (marked ``sending`` and checked against the suppression
    list, a store round trip) and wait for a wire slot, so that a freed slot's next request
    leaves at once instead of after that round trip: a slot held through it sat idle for a
    sixth of its time. Readied rows wait a fraction of a request's latency, and their
    permits, taken before they were marked, are used well within the limiter's margin."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0  # rows started and not done: readying, waiting for the wire, or on it
        self._wire = asyncio.Semaphore(size)
        self._freed = asyncio.Event()

    @property
    def free(self) -> int:
        return 2 * self.size - self.used  # on the wire, and as many readied

    def take(self, n: int) -> None:
        self.used += n

    def give(self) -> None:
        self.used -= 1
        self._freed.set()

    def on_wire(self) -> asyncio.Semaphore:
        """Held while a row's request is on the wire (``async with``)."""
        return self._wire

    async def freed(self) -> None:
        """Until a slot is given back, by any batch (callers bound the wait)."""
        self._freed.clear()
        await self._freed.wait()


@dataclass
class BatchReport:
    accepted: int = 0
    failed: int = 0
    suppressed: int = 0
    in_doubt: int = 0
    released: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: SendResult) -> None:
        if outcome.state is LedgerState.ACCEPTED:
            self.accepted += 1
        elif outcome.state is LedgerState.FAILED:
            self.failed += 1
        elif outcome.state is LedgerState.SUPPRESSED:
            self.suppressed += 1
        elif outcome.state is LedgerState.VERIFYING:
            self.in_doubt += 1
        else:
            self.released += 1
            reason = (outcome.error or "released").split(":")[0]
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


@dataclass(frozen=True)
class BatchContext:
    ledger: LedgerStore
    gate: Gate
    limiter: Limiter
    sender: MessageSender
    clock: Clock
    scope: str
    margin: float
    concurrency: int
    record_for: Callable[[str], DomainRecord]
    composer_for: Callable[[int, str | None], Composer]
    suppressed_among: SuppressedAmong
    lease_seconds: float = 300.0
    flush_every: int = 50
    draining: Callable[[], bool] = lambda: False  # the process is shutting down
    # Told when no message can go (credentials refused...): pauses the domain with the reason.
    setup_failed: Callable[[str, str], None] = lambda domain, reason: None
    # A relayed message (relay_messages.id) as the ACS request that sends it to one address.
    relayed: Callable[[int, str], dict[str, Any]] | None = None
    # The process's send slots, shared by its batches (None: this batch has ``concurrency``
    # of its own).
    slots: SendSlots | None = None
    # The wire journal's writer (None: no journal; every row left sending by a crash is then
    # in doubt) and the process's live leases (None: the claim's lease alone).
    wire_log: WireLog | None = None
    leases: LiveLeases | None = None
    # Real seconds this process must still hold back after a throttle it was told of.
    throttled_for: Callable[[], float] = lambda: 0.0

    @property
    def lease_safety(self) -> timedelta:
        shortest = self.lease_seconds
        if self.leases is not None:
            shortest = min(shortest, self.leases.seconds)
        return timedelta(seconds=min(MAX_LEASE_SAFETY, shortest / 5))


class BatchRunner:
    def __init__(self, context: BatchContext, batch: Batch) -> None:
        self._c = context
        self._batch = batch
        self._done: list[SendResult] = []
        self._pending: deque[WorkItem] = deque()
        # Sends started and not ended, and those that ended since the loop last looked.
        self._in_flight: set[asyncio.Task[SendResult | None]] = set()
        self._landings_due: list[asyncio.Task[SendResult | None]] = []
        self._landing = asyncio.Event()
        # Rows started together share one write that marks them sending: half a process's
        # slots per commit (a quarter took twice the commits, and the slots' next rows were
        # not always ready when they freed).
        self._refill = max(1, context.concurrency // 2)
        self._flushed_at = time.monotonic()
        self._suppressed: Mapping[str, str] = {}
        self._looked_up_at: float | None = None
        self._setup_error: str | None = None
        self._slots = context.slots or SendSlots(context.concurrency)
        self._marked: set[int] = set()  # rows marked on the wire in the journal
        self._store_warned = False
        # Set once every row has been started or given back: only answers are awaited then.
        self.all_started = asyncio.Event()
        self.report = BatchReport()

    async def run(self) -> BatchReport:
        batch = self._batch
        with span(
            "warmup.send_batch", batch=batch.id, domain=batch.domain, rows=len(batch.row_ids)
        ) as current:
            report = await self._run()
            if current is not None:
                current.set_attribute("accepted", report.accepted)
                current.set_attribute("released", report.released)
            return report

    async def _run(self) -> BatchReport:
        c, batch = self._c, self._batch
        items = await self._with_store(c.ledger.work, batch.row_ids, batch.id)
        pending = self._pending
        pending.extend(items)
        if c.wire_log is not None and items:
            try:
                await c.wire_log.open(batch.id)
            except JournalError as exc:
                self._give_back(pending, f"not sent: {exc}")
        if c.leases is not None and items:
            await c.leases.hold(batch.id, [item.id for item in items], batch.claimed_until)
        try:
            await self._send_all(pending)
        finally:
            if c.leases is not None:
                c.leases.release(batch.id)
        return self.report

    async def _send_all(self, pending: deque[WorkItem]) -> None:
        c = self._c
        while pending or self._in_flight or self._landings_due:
            stop = self._stop_reason()
            if stop is not None:
                self._give_back(pending, stop)
            wait: float | None = None
            room = self._slots.free
            # Refill when a few slots are free, not after every send: one limiter call then
            # grants permits for several rows.
            if pending and room >= min(self._refill, len(pending)):
                wait = await self._start(pending, room)
            if not pending:
                self.all_started.set()
            if self._done:
                wait = FLUSH_SECONDS if wait is None else min(wait, FLUSH_SECONDS)
            if self._in_flight or self._landings_due:
                await self._landings(wait)
            elif pending and wait is not None:
                await asyncio.sleep(min(wait, 1.0))
            elif pending:  # every slot is another batch's: wait for one of theirs to end
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(FLUSH_SECONDS):
                        await self._slots.freed()
            overdue = time.monotonic() - self._flushed_at >= FLUSH_SECONDS
            if len(self._done) >= c.flush_every or (self._done and overdue):
                await self._flush()
        self.all_started.set()
        await self._flush(final=True)

    async def _with_store(self, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, again while the store is away, until shortly before the batch's
        lease ends."""
        left = (self._deadline() - self._c.lease_safety - self._c.clock.now()).total_seconds()
        return await while_store_away(self._c.clock.real_seconds(left), call, *args)

    def _deadline(self) -> datetime:
        """Until when the batch may start sends: until its rows are surely its own (the
        claim's lease in the queue; once held, the live lease, which the heartbeat renews
        unless the store is away), and never past its deadline."""
        leases = self._c.leases
        live = leases.until(self._batch.id) if leases is not None else None
        own = self._batch.claimed_until if live is None else live
        return min(own, self._batch.deadline)

    def _store_away(self, exc: Exception) -> str:
        if not self._store_warned:
            self._store_warned = True
            log.warning("batch %s: the store is away (%s); results wait", self._batch.id, exc)
        return "the store is away: not sent"

    def _landed(self, task: asyncio.Task[SendResult | None]) -> None:
        self._in_flight.discard(task)
        self._landings_due.append(task)
        self._landing.set()

    async def _landings(self, patience: float | None) -> None:
        """Take the sends that ended, waiting up to ``patience`` seconds for one if none has. (Not
        ``asyncio.wait`` on the sends in flight: it hooks into every one of them at each call,
        a hundred a call and a call an answer.)"""
        if not self._landings_due:
            self._landing.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    await self._landing.wait()
        landed, self._landings_due = self._landings_due, []
        for task in landed:
            if (result := task.result()) is not None:
                self._finish(result)

    def _stop_reason(self) -> str | None:
        if self._setup_error is not None:
            return self._setup_error
        if self._c.draining():
            return "worker shutting down"
        if self._c.clock.now() > self._deadline() - self._c.lease_safety:
            return "lease nearly over"
        try:
            return self._c.gate.closed(self._batch.campaign_id)
        except STORE_AWAY as exc:
            return self._store_away(exc)

    def _held_back(self) -> str | None:
        """Why a request that is about to leave must not, if it must not: what stops the
        batch, or a throttle this process was told of since the row took its permit."""
        if (left := self._c.throttled_for()) > 0:
            return f"throttled: ACS asked to wait {left:.1f} s more"
        return self._stop_reason()

    def _give_back(self, pending: deque[WorkItem], reason: str) -> None:
        while pending:
            item = pending.popleft()
            self._finish(SendResult(item.id, LedgerState.PENDING, attempts=0, error=reason))

    async def _start(self, pending: deque[WorkItem], room: int) -> float | None:
        """Take permits for up to ``room`` rows (per provider group) and start their sends;
        how long to wait before asking again for the rows left without a permit."""
        c = self._c
        try:
            record = c.record_for(self._batch.domain)
        except STORE_AWAY as exc:
            self._store_away(exc)
            return FLUSH_SECONDS
        candidates = [pending.popleft() for _ in range(min(room, len(pending)))]
        held = stopped_groups(record)
        by_provider: dict[str, list[WorkItem]] = {}
        for item in candidates:
            if item.provider in held:
                # Its provider group's own gates stopped it since the claim: not sent, given
                # back for when the group is released.
                self._finish(SendResult(item.id, LedgerState.PENDING, 0, error=held[item.provider]))
                continue
            by_provider.setdefault(item.provider, []).append(item)
        granted: list[WorkItem] = []
        waiting: list[WorkItem] = []
        wait: float | None = None
        now = c.clock.now().timestamp()
        for provider, group in by_provider.items():
            grant = c.limiter.acquire(
                send_limits(record, provider, c.scope, c.margin), len(group), now, c.scope
            )
            granted += group[: grant.granted]
            waiting += group[grant.granted :]
            if grant.granted < len(group):
                real = c.clock.real_seconds(grant.retry_after or 0.05)
                wait = real if wait is None else min(wait, real)
        # Rows without a permit keep their place at the front, in rank order.
        for item in sorted(waiting, key=lambda i: candidates.index(i), reverse=True):
            pending.appendleft(item)
        if not granted:
            return wait
        # The group is marked and checked in the background: the loop goes on refilling while
        # the store commits, and each send waits for its group before its request leaves.
        marking = asyncio.ensure_future(self._ready(granted))
        self._slots.take(len(granted))
        for item in granted:
            task = asyncio.create_task(self._in_slot(item, marking))
            self._in_flight.add(task)
            task.add_done_callback(self._landed)
        return wait

    async def _in_slot(
        self, item: WorkItem, group: asyncio.Future[Mapping[int, str | None]]
    ) -> SendResult | None:
        try:
            result = await self._send_when_ready(item, group)
            if result is not None and result.id in self._marked and self._c.wire_log is not None:
                # Noted before the slot is freed, so the slot's next mark is written with or
                # after it: at no moment does the journal hold more rows on the wire than
                # there are wire slots. Kept there until the ledger has it, a crash before the
                # next flush leaves this row answered, not in doubt.
                self._c.wire_log.note(self._batch.id, result.id, encode(result))
            return result
        finally:
            self._slots.give()

    async def _ready(self, items: list[WorkItem]) -> Mapping[int, str | None]:
        """Rows about to be posted, marked ``sending`` first, then checked against the
        suppression list: row id → ``None`` to send, or the reason it is suppressed. A row whose
        lease lapsed (it may be another batch's now) is left out: neither sent nor recorded."""
        c = self._c
        try:
            held = await asyncio.to_thread(
                c.ledger.mark_sending, [i.id for i in items], self._batch.id, c.clock.now()
            )
            ready = [item for item in items if item.id in held]
            suppressed = await self._suppressed_now([item.address for item in ready])
        except STORE_AWAY as exc:
            # Not one of them left: they go back once the store is.
            reason = self._store_away(exc)
            for item in items:
                self._finish(SendResult(item.id, LedgerState.PENDING, 0, error=reason))
            return {}
        return {item.id: suppressed.get(item.address) for item in ready}

    async def _send_when_ready(
        self, item: WorkItem, group: asyncio.Future[Mapping[int, str | None]]
    ) -> SendResult | None:
        ready = await group
        if item.id not in ready:
            return None
        reason = ready[item.id]
        if reason is not None:
            return self._suppressed_result(item, reason)
        async with self._slots.on_wire():
            # Readied ahead, it may have waited for its slot: what was true then is asked
            # again (both answers are cached, so this costs nothing most of the time); the
            # gate, the lease and the throttle once more right before it leaves (_RowWire).
            try:
                suppressed = await self._suppressed_now([item.address])
            except STORE_AWAY as exc:
                return SendResult(item.id, LedgerState.PENDING, 0, error=self._store_away(exc))
            if suppressed:
                return self._suppressed_result(item, suppressed[item.address])
            return await self._send(item)

    async def _suppressed_now(self, addresses: list[str]) -> Mapping[str, str]:
        """Suppressed addresses among these, from a look-up at most a second old."""
        fresh = (
            self._looked_up_at is not None
            and time.monotonic() - self._looked_up_at < SUPPRESSION_FRESH
        )
        if not fresh:
            started = time.monotonic()
            self._suppressed = await asyncio.to_thread(
                self._c.suppressed_among, self._unsent_addresses(addresses), self._c.clock.now()
            )
            self._looked_up_at = started
        return {a: self._suppressed[a] for a in addresses if a in self._suppressed}

    def _unsent_addresses(self, addresses: list[str]) -> list[str]:
        # One look-up covers the whole batch's remaining rows, not only the rows at hand.
        return [*addresses, *(item.address for item in self._pending)]

    @staticmethod
    def _suppressed_result(item: WorkItem, reason: str) -> SendResult:
        error = f"suppressed at send time ({reason})"
        return SendResult(item.id, LedgerState.SUPPRESSED, attempts=0, error=error)

    async def _permit(self, item: WorkItem) -> None:
        """A fresh permit for a retry; gives the row back if sending stopped meanwhile."""
        c = self._c
        while True:
            reason = self._stop_reason()
            if reason is not None:
                raise GiveBack(reason)
            try:
                record = c.record_for(self._batch.domain)
            except STORE_AWAY as exc:
                raise GiveBack(self._store_away(exc)) from None
            stopped = stopped_groups(record).get(item.provider)
            if stopped is not None:
                raise GiveBack(stopped)
            grant = c.limiter.acquire(
                send_limits(record, item.provider, c.scope, c.margin),
                1,
                c.clock.now().timestamp(),
                c.scope,
            )
            if grant.granted:
                if await self._suppressed_now([item.address]):
                    raise SuppressedNow(item.address)
                return
            await asyncio.sleep(min(c.clock.real_seconds(grant.retry_after or 0.05), 1.0))

    async def _message(self, item: WorkItem) -> dict[str, Any]:
        if item.relay_message_id:
            if self._c.relayed is None:
                raise ContentError("this worker cannot read relayed messages")
            return await asyncio.to_thread(self._c.relayed, item.relay_message_id, item.address)
        message, _ = self._c.composer_for(item.campaign_id, item.variant).compose(
            item.address, item.fields
        )
        return message

    async def _send(self, item: WorkItem) -> SendResult:
        try:
            message = await self._message(item)
        except (ContentError, LookupError) as exc:
            return SendResult(item.id, LedgerState.FAILED, attempts=0, error=f"render: {exc}")
        except STORE_AWAY as exc:  # the campaign or the relayed message could not be read
            return SendResult(item.id, LedgerState.PENDING, 0, error=self._store_away(exc))
        try:
            accepted = await self._c.sender.send(
                message,
                item.operation_id,
                before_retry=lambda: self._permit(item),
                wire=_RowWire(self, item.id),
            )
        except NotSent as held:
            return SendResult(item.id, LedgerState.PENDING, attempts=0, error=f"held back: {held}")
        except GiveBack as stop:
            return SendResult(item.id, LedgerState.PENDING, attempts=1, error=str(stop))
        except SuppressedNow:
            reason = self._suppressed.get(item.address, "suppressed")
            return SendResult(
                item.id, LedgerState.SUPPRESSED, attempts=1, error=f"suppressed at retry ({reason})"
            )
        except AmbiguousSendError as exc:
            # It may have arrived: ACS is asked before it is ever posted again.
            return SendResult(item.id, LedgerState.VERIFYING, attempts=1, error=str(exc))
        except TransportSetupError as exc:
            # Not this message's fault: every row would fail alike. The row waits for the fix.
            reason = f"cannot send: {exc}"
            if self._setup_error is None:
                self._setup_error = reason
                self._c.setup_failed(self._batch.domain, reason)
            return SendResult(item.id, LedgerState.PENDING, attempts=1, error=reason)
        except PermanentSendError as exc:
            return SendResult(item.id, LedgerState.FAILED, attempts=1, error=str(exc))
        except ThrottledError as exc:
            return SendResult(item.id, LedgerState.PENDING, attempts=1, error=f"throttled: {exc}")
        except SendError as exc:
            return SendResult(
                item.id, LedgerState.PENDING, attempts=1, error=f"gave up for now: {exc}"
            )
        return SendResult(
            item.id,
            LedgerState.ACCEPTED,
            attempts=accepted.attempts,
            message_id=accepted.message_id,
            error=accepted.note,
        )

    def _finish(self, outcome: SendResult) -> None:
        self._done.append(outcome)
        self.report.add(outcome)

    async def _flush(self, *, final: bool = False) -> None:
        """Write the results so far. While the store is away they wait for the next flush;
        the last one tries until shortly before the lease ends, then leaves them to the
        wire journal, where housekeeping finds them once the lease lapses."""
        if not self._done:
            return
        done, self._done = self._done, []
        self._flushed_at = time.monotonic()
        c = self._c
        if c.wire_log is not None:
            await c.wire_log.write_notes()
        try:
            if final:
                await self._with_store(c.ledger.record, done, self._batch.id, c.clock.now())
            else:
                await asyncio.to_thread(c.ledger.record, done, self._batch.id, c.clock.now())
        except STORE_AWAY as exc:
            self._done = done + self._done
            self._store_away(exc)
            if final:
                log.error(
                    "batch %s: %d result(s) not written; housekeeping takes them from the "
                    "wire journal once the lease lapses",
                    self._batch.id,
                    len(self._done),
                )
            return
        if final and c.wire_log is not None:
            await c.wire_log.close(self._batch.id, sorted(self._marked))


class _RowWire:
    """One row's side of :class:`~warmup.sending.wire.Wire`: the last checks before its
    request leaves, and its mark in the batch's wire journal."""

    def __init__(self, runner: BatchRunner, row: int) -> None:
        self._runner = runner
        self._row = row

    async def leaving(self) -> None:
        runner = self._runner
        reason = runner._held_back()
        if reason is not None:
            raise NotSent(reason)
        wire_log = runner._c.wire_log
        if wire_log is not None:
            await wire_log.leaving(runner._batch.id, self._row)
            runner._marked.add(self._row)

    def refused(self) -> None:
        wire_log = self._runner._c.wire_log
        if wire_log is not None:
            wire_log.note(self._runner._batch.id, self._row, None)
