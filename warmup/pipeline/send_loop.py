"""A worker process's send loop: one asyncio event loop on a thread of its own, where batches
from Celery (a sync world) are sent and waited for.

It holds what lives on that loop: the ACS ``.aio`` client and the SMTP sender (built on first
use, each with the throttle hook that holds every worker back), the process's send slots, the
batches whose last answers are still awaited after their task returned (tails), the wire log
and the live leases; and two short caches (domain records, composers) so that a batch does not
reread what the previous one just read. The Celery-facing surface is
:class:`~warmup.pipeline.runtime.Runtime`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from warmup.campaigns.compose import Composer, unsubscriber_from
from warmup.clock import Clock
from warmup.domains.actions import OpsRequest, act
from warmup.domains.record import DomainRecord
from warmup.errors import SendError, ThrottledError, TransitionError
from warmup.journal import WireJournal
from warmup.ledger.outcomes import AcsAnswer
from warmup.pipeline.batch import (
    MAX_LEASE_SAFETY,
    BatchContext,
    BatchReport,
    BatchRunner,
    SendSlots,
    while_store_away,
)
from warmup.pipeline.dispatch import Batch
from warmup.pipeline.gate import Gate
from warmup.pipeline.leases import LiveLeases
from warmup.pipeline.wire_log import WireLog
from warmup.ratelimit.base import Limiter
from warmup.ratelimit.redis_limiter import RedisLimiter
from warmup.sending.client import AsyncAcsClient, build_async_client
from warmup.sending.retry import RetryPolicy
from warmup.sending.sender import AsyncSender, MessageSender
from warmup.sending.smtp import SmtpSender, build_smtp_sender
from warmup.sending.transport import Transport
from warmup.settings import Settings
from warmup.wiring import Stores

log = logging.getLogger(__name__)


DRAIN_CHECK_SECONDS = 0.25


class SendLoop:
    def __init__(
        self,
        settings: Settings,
        stores: Stores,
        *,
        limiter: Limiter,
        journal: WireJournal,
        clock: Clock,
        scope: str,
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.clock = clock
        self.scope = scope
        self.domains = stores.domains
        self.campaigns = stores.campaigns
        self.ledger = stores.ledger
        self.suppressions = stores.suppressions
        self.relayed = stores.relayed
        self.gate = Gate(self.campaigns, self.domains, settings.gate_ttl_seconds)
        self._records: dict[str, tuple[float, DomainRecord]] = {}
        self._composers: dict[tuple[int, str | None], Composer] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="warmup-send-loop", daemon=True
        )
        self._thread.start()
        self._client: AsyncAcsClient | None = None
        self._sender: AsyncSender | None = None
        self._smtp: SmtpSender | None = None
        # Whether the process is shutting down (set by whoever runs it: the Celery worker on
        # SIGTERM). A draining batch takes no more permits, cuts retry waits short, gives its
        # unsent rows back and finishes only the requests already out.
        self.draining: Callable[[], bool] = lambda: False
        # The process's send slots, shared by its batches, and the batches whose last answers
        # are still awaited after their task returned (see start_batch).
        self._slots = SendSlots(settings.send_concurrency)
        self._tails: set[asyncio.Task[BatchReport]] = set()
        # The journal compares the throttle signal with the clock the limiter set it by.
        server_time = isinstance(limiter, RedisLimiter) and limiter.server_time
        self._wire_log = WireLog(
            journal,
            scope,
            (lambda: None) if server_time else (lambda: self.clock.now().timestamp()),
        )
        self._leases = LiveLeases(
            self.ledger, clock, min(settings.live_lease_seconds, settings.lease_seconds)
        )
        # Until when (monotonic) this process holds back after a throttle it was told of:
        # requests about to leave check it (the limiter stops new permits, not these).
        self._throttled_until = 0.0
        # Tails whose task returned → their batch's id.
        self._returned: dict[asyncio.Task[BatchReport], str] = {}

    def record_for(self, domain: str) -> DomainRecord:
        cached = self._records.get(domain)
        now = time.monotonic()
        if cached is None or now - cached[0] > self.settings.gate_ttl_seconds:
            cached = (now, self.domains.get(domain))
            self._records[domain] = cached
        return cached[1]

    def composer_for(self, campaign_id: int, variant: str | None = None) -> Composer:
        composer = self._composers.get((campaign_id, variant))
        if composer is None:
            campaign = self.campaigns.by_id(campaign_id)
            composer = Composer.for_campaign(campaign, unsubscriber_from(self.settings), variant)
            self._composers[(campaign_id, variant)] = composer
        return composer

    def _throttled(self, error: ThrottledError) -> None:
        # ACS asked one worker to wait: every worker on this quota waits.
        wait = error.retry_after or 1.0
        self._throttled_until = max(self._throttled_until, time.monotonic() + wait)
        seconds = self.clock.clock_seconds(wait)
        self.limiter.throttle(self.scope, seconds, self.clock.now().timestamp())

    def _throttled_for(self) -> float:
        return max(0.0, self._throttled_until - time.monotonic())

    async def _wait_unless_draining(self, seconds: float) -> None:
        """A retry's wait (a Retry-After can be minutes) that ends when the process drains: the
        retry then finds its batch stopping and gives the row back."""
        end = time.monotonic() + seconds
        # Polled, not an Event: the flag is set by another process (see workers/draining.py).
        while (left := end - time.monotonic()) > 0 and not self.draining():  # noqa: ASYNC110
            await asyncio.sleep(min(left, DRAIN_CHECK_SECONDS))

    async def _sender_on_loop(self) -> AsyncSender:
        if self._sender is None:
            self._client = build_async_client(self.settings)
            self._sender = AsyncSender(
                self._client,
                RetryPolicy.from_settings(self.settings),
                throttle_hook=self._throttled,
                sleep=self._wait_unless_draining,
            )
        return self._sender

    def _smtp_on_loop(self) -> SmtpSender:
        if self._smtp is None:
            self._smtp = build_smtp_sender(
                self.settings,
                RetryPolicy.from_settings(self.settings),
                throttle_hook=self._throttled,
                sleep=self._wait_unless_draining,
            )
        return self._smtp

    async def _sender_for(self, batch: Batch) -> MessageSender:
        # The domain's record says which transport: read while the store may be away (a batch
        # that failed here would leave its rows claimed for the whole claim lease).
        left = (batch.claimed_until - self.clock.now()).total_seconds() - MAX_LEASE_SAFETY
        record = await while_store_away(
            self.clock.real_seconds(left), self.record_for, batch.domain
        )
        if record.transport is Transport.SMTP:
            return self._smtp_on_loop()
        return await self._sender_on_loop()

    def _pause_for_setup(self, domain: str, reason: str) -> None:
        """Credentials refused: nothing on this domain can go until ops fix them and resume."""
        log.error("pausing %s: %s", domain, reason)
        request = OpsRequest(actor="warmup (sending)", reason=reason, at=self.clock.now())
        with contextlib.suppress(TransitionError):  # paused already, by this or another worker
            act(self.domains, domain, "pause", request)
        self._records.pop(domain, None)

    async def _statuses(self, message_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        await self._sender_on_loop()
        assert self._client is not None
        # One attempt each: a throttled status read waits for the next round, not here.
        poller = AsyncSender(self._client, RetryPolicy(max_attempts=1))
        found: dict[str, tuple[str, str | None]] = {}
        for message_id in message_ids:
            try:
                status = await poller.status(message_id)
            except SendError:
                break
            found[message_id] = (status.status, status.error)
        return found

    def fetch_statuses(self, message_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        return asyncio.run_coroutine_threadsafe(self._statuses(message_ids), self._loop).result(120)

    async def _lookups(self, operation_ids: list[str]) -> dict[str, AcsAnswer | None]:
        await self._sender_on_loop()
        assert self._client is not None
        # One attempt each: what cannot be asked now (throttled, unreachable) waits a round.
        asker = AsyncSender(self._client, RetryPolicy(max_attempts=1))
        found: dict[str, AcsAnswer | None] = {}
        for operation_id in operation_ids:
            try:
                status = await asker.lookup(operation_id)
            except ThrottledError:
                break  # the status quota is spent: the rest wait for the next round
            except SendError as exc:
                log.warning("could not ask ACS about operation %s: %s", operation_id, exc)
                continue
            found[operation_id] = (
                None
                if status is None
                else AcsAnswer(status.message_id, status.status, status.error)
            )
        return found

    def lookup_operations(self, operation_ids: list[str]) -> dict[str, AcsAnswer | None]:
        """Ask ACS about operations in doubt (see :class:`~warmup.ledger.outcomes.DoubtfulRows`)."""
        return asyncio.run_coroutine_threadsafe(self._lookups(operation_ids), self._loop).result(
            120
        )

    async def _runner(self, batch: Batch) -> BatchRunner:
        context = BatchContext(
            ledger=self.ledger,
            gate=self.gate,
            limiter=self.limiter,
            sender=await self._sender_for(batch),
            clock=self.clock,
            scope=self.scope,
            margin=self.settings.limiter_margin_seconds,
            concurrency=self.settings.send_concurrency,
            record_for=self.record_for,
            composer_for=self.composer_for,
            suppressed_among=self.suppressions.active_among,
            lease_seconds=self.settings.lease_seconds,
            draining=self.draining,
            setup_failed=lambda domain, reason: self._pause_for_setup(domain, reason),
            relayed=self.relayed.message_for,
            slots=self._slots,
            wire_log=self._wire_log,
            leases=self._leases,
            throttled_for=self._throttled_for,
        )
        return BatchRunner(context, batch)

    async def _run_batch(self, batch: Batch) -> BatchReport:
        return await (await self._runner(batch)).run()

    def run_batch(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a batch; return when every row's result is in the ledger."""
        batch = Batch.from_message(message)
        future = asyncio.run_coroutine_threadsafe(self._run_batch(batch), self._loop)
        return asdict(future.result())

    def start_batch(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a batch; return once every row has been started or given back, its last
        answers still awaited (and their results written) in the background, so the next
        batch's rows take the slots they free. What a crash then leaves is what it leaves
        mid-batch: rows marked ``sending`` before their request left, asked about before any
        second post. :meth:`finish_tails` waits for them (the worker's shutdown)."""
        batch = Batch.from_message(message)

        async def started() -> BatchReport:
            runner = await self._runner(batch)
            tail = asyncio.ensure_future(runner.run())
            self._tails.add(tail)
            tail.add_done_callback(self._tail_done)
            begun = asyncio.ensure_future(runner.all_started.wait())
            await asyncio.wait({tail, begun}, return_when=asyncio.FIRST_COMPLETED)
            begun.cancel()
            if tail.done():
                return tail.result()  # finished (or failed) before its rows were all out
            self._returned[tail] = batch.id
            return runner.report

        return asdict(asyncio.run_coroutine_threadsafe(started(), self._loop).result())

    def _tail_done(self, tail: asyncio.Task[BatchReport]) -> None:
        self._tails.discard(tail)
        batch_id = self._returned.pop(tail, None)
        if batch_id is None or tail.cancelled():
            return  # its task reported how it ended
        # Its task is over: nobody else hears how the batch ended.
        if (error := tail.exception()) is not None:
            log.error("batch %s failed after its task returned", batch_id, exc_info=error)
        else:
            log.info("batch %s finished: %s", batch_id, asdict(tail.result()))

    def finish_tails(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds for batches still awaiting answers; how many are
        left unfinished (their rows stay ``sending``: asked about, never posted again)."""

        async def wait() -> int:
            if self._tails:
                await asyncio.wait(set(self._tails), timeout=timeout)
            return len(self._tails)

        return asyncio.run_coroutine_threadsafe(wait(), self._loop).result(timeout + 5)

    def close(self, tails_timeout: float) -> None:
        """Wait up to ``tails_timeout`` s for the tails, close the senders, stop the loop."""
        self.finish_tails(tails_timeout)
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(10)
        if self._smtp is not None:
            asyncio.run_coroutine_threadsafe(self._smtp.close(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(self._leases.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._wire_log.shut()
