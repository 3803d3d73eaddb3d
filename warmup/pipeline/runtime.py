"""The Celery-facing surface of one worker process: what its tasks call, built once, on first
use, from settings.

The stores come from the composition root (:class:`~warmup.wiring.Stores`); the limiter and the
wire journal sit on Redis; sending happens on the process's send loop
(:class:`~warmup.pipeline.send_loop.SendLoop`). What is here: the dispatcher's tick, the
reconciler, a campaign's fill, the feedback rounds and the suppression sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from warmup.campaigns.model import CampaignStatus
from warmup.clock import Clock
from warmup.control.state import Transition
from warmup.errors import ConfigError
from warmup.feedback.dmarc_mailbox import MailboxPull, pull_mailbox
from warmup.feedback.domain_health import judge_domain, window_verdict
from warmup.feedback.notify import Notifier
from warmup.feedback.pull import TABLES, LogPull, PullReport
from warmup.journal import InMemoryJournal, RedisJournal, WireJournal
from warmup.ledger.outcomes import DoubtfulRows, OutcomeFallback
from warmup.management.client import AcsResources, management_client
from warmup.management.logs import LogsQuery
from warmup.management.resources import AzureResources
from warmup.pipeline.dispatch import Batch, DispatchConfig, Dispatcher
from warmup.pipeline.limiter_restore import restore_if_lost
from warmup.pipeline.outcome_poll import StatusPoller, quota_scope
from warmup.pipeline.reconcile import Reconciler, ReconcileReport
from warmup.pipeline.send_loop import SendLoop
from warmup.ratelimit.base import Limiter
from warmup.ratelimit.redis_limiter import RedisLimiter
from warmup.settings import Settings, env_name
from warmup.suppression.acs_sync import SyncReport, sync_suppressions
from warmup.wiring import Stores, worker_limiter

log = logging.getLogger(__name__)


def _journal_beside(limiter: Limiter, settings: Settings) -> WireJournal:
    """The wire journal on the limiter's Redis, outside every send process so that it outlives
    their crashes, reading the limiter's throttle signal; in memory without Redis."""
    if settings.redis_url is None:
        return InMemoryJournal(lambda scope: limiter.throttled_until().get(scope, 0.0))
    hold_key = limiter.throttle_key if isinstance(limiter, RedisLimiter) else None
    return RedisJournal.from_url(settings.redis_url.get_secret_value(), hold_key=hold_key)


class Runtime:
    """What one worker process's Celery tasks call: built once, on first use, from settings."""

    def __init__(
        self,
        settings: Settings,
        *,
        limiter: Limiter | None = None,
        clock: Clock | None = None,
        journal: WireJournal | None = None,
    ) -> None:
        if limiter is None:
            limiter = worker_limiter(settings)
        if journal is None:
            journal = _journal_beside(limiter, settings)
        self.settings = settings
        self.limiter = limiter
        self.journal = journal
        self.stores = Stores.open(settings)
        self.clock = clock or self.stores.clock
        self.database = self.stores.database
        self.domains = self.stores.domains
        self.ledger = self.stores.ledger
        self.campaigns = self.stores.campaigns
        self.scope = quota_scope(settings)
        self._notifier: Notifier | None = None
        self.sends = SendLoop(
            settings, self.stores, limiter=limiter, journal=journal, clock=self.clock,
            scope=self.scope,
        )  # fmt: skip

    @property
    def draining(self) -> Callable[[], bool]:
        """Whether the process is shutting down (set by the Celery worker, read by batches)."""
        return self.sends.draining

    @draining.setter
    def draining(self, check: Callable[[], bool]) -> None:
        self.sends.draining = check

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
            self.sends.fetch_statuses,
            poll_after=self.settings.status_poll_after_seconds,
            per_minute=self.settings.status_polls_per_minute,
            per_hour=self.settings.status_polls_per_hour,
            unknown_after=self.settings.outcome_unknown_after_seconds,
            doubtful=DoubtfulRows(self.database),
            lookup=self.sends.lookup_operations,
        )
        return Reconciler(
            self.domains,
            self.campaigns,
            self.ledger,
            self.clock,
            poller,
            judge=lambda record, at: window_verdict(self.database, record, at),
            postmaster=self.stores.postmaster.days,
            schedule=self.stores.schedule,
            ab_tests=self.stores.ab_tests,
            fill_stall=timedelta(seconds=self.settings.fill_stall_seconds),
            journal=self.journal,
        )

    # --- sending (on the send loop) -----------------------------------------------------

    def run_batch(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a batch; return when every row's result is in the ledger."""
        return self.sends.run_batch(message)

    def start_batch(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send a batch; return once every row has been started or given back (see
        :meth:`SendLoop.start_batch`)."""
        return self.sends.start_batch(message)

    def finish_tails(self, timeout: float) -> int:
        return self.sends.finish_tails(timeout)

    def fetch_statuses(self, message_ids: list[str]) -> dict[str, tuple[str, str | None]]:
        return self.sends.fetch_statuses(message_ids)

    # --- housekeeping -----------------------------------------------------------------

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
        self.stores.feedback.match_pending(now)
        self.stores.feedback.credit_waiting(now)
        if self._notifier is None:
            url = self.settings.notify_webhook_url
            self._notifier = Notifier(self.database, url.get_secret_value() if url else None)
        transitions: list[Transition] = []
        for record in self.domains.all():
            verdict, decision = judge_domain(self.database, self.domains, record.state.domain, now)
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
            pull = LogPull(self.database, self.stores.feedback)
            return [pull.run(workspace, query, self.clock.now(), table=table) for table in TABLES]
        finally:
            query.close()

    def pull_postmaster(self) -> list[str]:
        """Every domain's new days from Gmail Postmaster Tools; what was kept, a line each."""
        from warmup.feedback.postmaster_pull import client_for, describe, pull

        client = client_for(self.settings)
        try:
            now = self.clock.now()
            names = [record.state.domain for record in self.domains.all()]
            report = pull(client, self.stores.postmaster, names, now.date(), now)
        finally:
            client.close()
        return list(describe(report))

    def pull_dmarc_mailbox(self) -> MailboxPull:
        """The aggregate reports waiting in the rua mailbox, each kept once."""
        return pull_mailbox(self.settings, self.stores.dmarc, self.clock.now())

    def sync_suppressions(self) -> dict[str, SyncReport]:
        """Every domain's suppression list in ACS in step with warmup's suppressions."""
        azure = AzureResources(
            management_client(self.settings), AcsResources.from_settings(self.settings)
        )
        return {
            record.state.domain: sync_suppressions(
                azure,
                self.stores.suppressions,
                record.state.domain,
                actor="warmup (beat)",
                at=self.clock.now(),
            )
            for record in self.domains.all()
        }

    def close(self) -> None:
        self.sends.close(tails_timeout=self.settings.lease_seconds / 5)
        self.limiter.close()
        self.journal.shut()
        self.database.dispose()
