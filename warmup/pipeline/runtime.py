"""Everything one worker process needs, built once, on first use, from settings.

One store, one limiter, and one ACS ``.aio`` client living on one event loop in a background
thread: batches from Celery (a sync world) are handed to that loop and waited for. Domain
records and composers are cached briefly, so a batch does not reread what it just read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from warmup.campaigns.ab_test import CampaignABTest
from warmup.campaigns.compose import Composer, unsubscriber_from
from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.scheduling import CampaignSchedule
from warmup.campaigns.store import CampaignStore
from warmup.clock import Clock, clock_for
from warmup.control.state import Transition
from warmup.domains.actions import OpsRequest, act
from warmup.domains.record import DomainRecord
from warmup.domains.store import DomainStore
from warmup.errors import ConfigError, SendError, ThrottledError, TransitionError
from warmup.feedback.domain_health import judge_domain, window_verdict
from warmup.feedback.intake import FeedbackStore
from warmup.feedback.notify import Notifier
from warmup.feedback.pull import TABLES, LogPull, PullReport
from warmup.journal import InMemoryJournal, RedisJournal, WireJournal
from warmup.ledger.outcomes import AcsAnswer, DoubtfulRows, OutcomeFallback
from warmup.ledger.store import LedgerStore
from warmup.management.client import AcsResources, management_client
from warmup.management.logs import LogsQuery
from warmup.management.resources import AzureResources
from warmup.pipeline.batch import (
    MAX_LEASE_SAFETY,
    BatchContext,
    BatchReport,
    BatchRunner,
    SendSlots,
    while_store_away,
)
from warmup.pipeline.dispatch import Batch, DispatchConfig, Dispatcher
from warmup.pipeline.gate import Gate
from warmup.pipeline.leases import LiveLeases
from warmup.pipeline.limiter_restore import restore_if_lost
from warmup.pipeline.outcome_poll import StatusPoller, quota_scope
from warmup.pipeline.reconcile import Reconciler, ReconcileReport
from warmup.pipeline.wire_log import WireLog
from warmup.ratelimit.base import Limiter
from warmup.ratelimit.redis_limiter import RedisLimiter
from warmup.relay.intake import RelayIntake
from warmup.sending.client import AsyncAcsClient, build_async_client
from warmup.sending.retry import RetryPolicy
from warmup.sending.sender import AsyncSender, MessageSender
from warmup.sending.smtp import SmtpSender, build_smtp_sender
from warmup.sending.transport import Transport
from warmup.settings import Settings, env_name
from warmup.store.database import Database
from warmup.suppression.acs_sync import SyncReport, sync_suppressions
from warmup.suppression.store import SuppressionStore

log = logging.getLogger(__name__)


DRAIN_CHECK_SECONDS = 0.25


def _journal_beside(limiter: Limiter, settings: Settings) -> WireJournal:
    """The wire journal on the limiter's Redis, outside every send process so that it outlives
    their crashes, reading the limiter's throttle signal; in memory without Redis."""
    if settings.redis_url is None:
        return InMemoryJournal(lambda scope: limiter.throttled_until().get(scope, 0.0))
    hold_key = limiter.throttle_key if isinstance(limiter, RedisLimiter) else None
    return RedisJournal.from_url(settings.redis_url.get_secret_value(), hold_key=hold_key)


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        limiter: Limiter | None = None,
        clock: Clock | None = None,
        journal: WireJournal | None = None,
    ) -> None:
        if limiter is None:
            if settings.redis_url is None:
                raise ConfigError(
                    f"{env_name('redis_url')} is required for workers and the dispatcher"
                )
            # Redis's clock for every worker, unless the clock is accelerated (demo, tests).
            real_time = settings.clock_scale == 1.0 and settings.clock_origin is None
            limiter = RedisLimiter.from_url(
                settings.redis_url.get_secret_value(), server_time=real_time
            )
        if journal is None:
            journal = _journal_beside(limiter, settings)
        self.settings = settings
        self.limiter = limiter
        self.journal = journal
        self.clock = clock or clock_for(settings.clock_scale, settings.clock_origin)
        self.database = Database.connect(settings.database_url.get_secret_value())
        self.domains = DomainStore(self.database)
        self.ledger = LedgerStore(self.database)
        self.campaigns = CampaignStore(self.database, fill_chunk_rows=settings.fill_chunk_rows)
        self.suppressions = SuppressionStore(self.database)
        self.relayed = RelayIntake(self.database)
        self.scope = quota_scope(settings)
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
        self._notifier: Notifier | None = None
        self.gate = Gate(self.database, settings.gate_ttl_seconds)
        # The process's send slots, shared by its batches, and the batches whose last answers
        # are still awaited after their task returned (see start_batch).
        self._slots = SendSlots(settings.send_concurrency)
        self._tails: set[asyncio.Task[BatchReport]] = set()
        # The journal compares the throttle signal with the clock the limiter set it by.
        server_time = isinstance(limiter, RedisLimiter) and limiter.server_time
        self._wire_log = WireLog(
            journal,
            self.scope,
            (lambda: None) if server_time else (lambda: self.clock.now().timestamp()),
        )
        self._leases = LiveLeases(
            self.ledger, self.clock, min(settings.live_lease_seconds, settings.lease_seconds)
        )
        # Until when (monotonic) this process holds back after a throttle it was told of:
        # requests about to leave check it (the limiter stops new permits, not these).
        self._throttled_until = 0.0
        # Tails whose task returned → their batch's id.
        self._returned: dict[asyncio.Task[BatchReport], str] = {}

    # --- pieces -----------------------------------------------------------------------

    def dispatcher(self) -> Dispatcher:
        config = DispatchConfig(
            batch_size=self.settings.batch_size,
            lease_seconds=self.settings.lease_seconds,
            queue_lease_seconds=self.settings.queue_lease_seconds,
            max_claim_per_tick=self.settings.max_claim_per_tick,
            margin=self.settings.limiter_margin_seconds,
        )
        return Dispatcher(self.domains, self.ledger, self.limiter, self.clock, config)

    def reconciler(self) -> Reconciler:
        poller = StatusPoller(
            OutcomeFallback(self.database),
            self.limiter,
            self.scope,
            self.fetch_statuses,
            poll_after=self.settings.status_poll_after_seconds,
            per_minute=self.settings.status_polls_per_minute,
            per_hour=self.settings.status_polls_per_hour,
            unknown_after=self.settings.outcome_unknown_after_seconds,
            doubtful=DoubtfulRows(self.database),
            lookup=self.lookup_operations,
        )
        return Reconciler(
            self.domains,
            self.campaigns,
            self.ledger,
            self.clock,
            poller,
            judge=lambda record, at: window_verdict(self.database, record, at),
            schedule=CampaignSchedule(self.database),
            ab_tests=CampaignABTest(self.database),
            fill_stall=timedelta(seconds=self.settings.fill_stall_seconds),
            journal=self.journal,
        )

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

    # --- work -------------------------------------------------------------------------

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

    def dispatch(self, fence: int | None = None) -> list[Batch]:
        restore_if_lost(
            self.limiter,
            self.domains.all,
            self.ledger,
            self.scope,
            self.settings.limiter_margin_seconds,
            self.clock.now(),
        )
        return self.dispatcher().tick(fence).batches

    def reconcile(self) -> ReconcileReport:
        return self.reconciler().run()

    def fill_step(self, name: str) -> bool:
        """One chunk of a starting campaign's ledger; whether there is more to fill."""
        return self.campaigns.fill_step(name, self.clock.now()).status is CampaignStatus.STARTING

    def feedback(self) -> list[Transition]:
        """Match late reports, judge every domain's health, tell people what changed."""
        now = self.clock.now()
        FeedbackStore(
            self.database, soft_failures_to_suppress=self.settings.soft_failures_to_suppress
        ).match_pending(now)
        if self._notifier is None:
            url = self.settings.notify_webhook_url
            self._notifier = Notifier(self.database, url.get_secret_value() if url else None)
        transitions: list[Transition] = []
        for record in self.domains.all():
            verdict, decision = judge_domain(self.database, record.state.domain, now)
            self._notifier.observe(record.state.domain, verdict)
            transitions += decision.transitions
        self._notifier.tell_changes()
        return transitions

    def pull_feedback(self) -> list[PullReport]:
        """Delivery reports, opens and clicks from the Log Analytics workspace, each table
        from its last watermark."""
        workspace = self.settings.log_analytics_workspace_id
        if workspace is None:
            raise ConfigError(f"{env_name('log_analytics_workspace_id')} is not set")
        query = LogsQuery(self.settings, workspace)
        try:
            store = FeedbackStore(
                self.database, soft_failures_to_suppress=self.settings.soft_failures_to_suppress
            )
            pull = LogPull(self.database, store)
            return [pull.run(workspace, query, self.clock.now(), table=table) for table in TABLES]
        finally:
            query.close()

    def sync_suppressions(self) -> dict[str, SyncReport]:
        """Every domain's suppression list in ACS in step with warmup's suppressions."""
        azure = AzureResources(
            management_client(self.settings), AcsResources.from_settings(self.settings)
        )
        store = SuppressionStore(self.database)
        return {
            record.state.domain: sync_suppressions(
                azure, store, record.state.domain, actor="warmup (beat)", at=self.clock.now()
            )
            for record in self.domains.all()
        }

    def close(self) -> None:
        self.finish_tails(self.settings.lease_seconds / 5)
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.close(), self._loop).result(10)
        if self._smtp is not None:
            asyncio.run_coroutine_threadsafe(self._smtp.close(), self._loop).result(10)
        asyncio.run_coroutine_threadsafe(self._leases.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self.limiter.close()
        self._wire_log.shut()
        self.journal.shut()
        self.database.dispose()
