"""The pipeline end to end without Celery: dispatcher, batches, limiter, ledger, emulator."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import DOMAIN, exactly_once, world
from warmup.campaigns.report import campaign_report
from warmup.control import ops
from warmup.domains.store import DomainStore
from warmup.store.models import LedgerRow
from warmup.wiring import Stores

pytestmark = pytest.mark.integration


def test_every_recipient_once_through_faults(database_url: str, tmp_path: Path) -> None:
    """503s, 500s, injected 429s and answers lost after ACS accepted: each address once.

    The emulator does not de-duplicate Operation-Ids here, so a second post would be a second
    email: rows whose answer was lost are settled by asking ACS, never by posting again."""
    with world(
        database_url,
        tmp_path,
        recipients=300,
        fault_503_rate=0.1,
        fault_500_rate=0.05,
        fault_429_rate=0.05,
        fault_retry_after_seconds=0,
        drop_after_accept_rate=0.05,
        dedupe_operation_ids=False,
    ) as w:
        w.run_until_done(workers=3)
        stats = w.emulator.stats()
        report = campaign_report(
            w.database, DomainStore(w.database), "c", today=datetime.now(UTC).date(), message_kb=5
        )
    exactly_once(stats, 300)
    assert stats["injected"].get("503", 0) > 0
    assert stats["injected"].get("drop_after_accept", 0) > 0
    assert stats["reused_operation_ids"] == 0  # nothing was posted a second time
    assert report.by_state == {"accepted": 300}
    assert report.adds_up


def test_a_paused_domain_stops_batches_already_queued(database_url: str, tmp_path: Path) -> None:
    with world(database_url, tmp_path, recipients=100) as w:
        batches = w.runtime.dispatch()
        assert sum(len(b.row_ids) for b in batches) == 100
        now = datetime.now(UTC)
        w.domains.transition(
            DOMAIN, lambda r: ops.pause(r.state, actor="ops", reason="spam trap", at=now)
        )
        reports = [w.runtime.run_batch(b.to_message()) for b in batches]
        assert sum(r["accepted"] for r in reports) == 0
        assert sum(r["released"] for r in reports) == 100
        assert w.emulator.stats()["accepted"] == 0
        with w.database.session() as session:
            states = dict(
                session.execute(
                    select(LedgerRow.state, func.count()).group_by(LedgerRow.state)
                ).all()
            )
            assert states == {"pending": 100}
            errors = set(session.scalars(select(LedgerRow.last_error)))
        assert errors == {"domain mail.example.com paused: spam trap"}


def test_a_paused_campaign_stops_too_and_resumes(database_url: str, tmp_path: Path) -> None:
    with world(database_url, tmp_path, recipients=60) as w:
        batches = w.runtime.dispatch()
        Stores(w.database).campaigns.change(
            "c", "pause", actor="m", reason="typo", at=datetime.now(UTC)
        )
        for batch in batches:
            w.runtime.run_batch(batch.to_message())
        assert w.emulator.stats()["accepted"] == 0
        assert w.runtime.dispatch() == []  # nothing is claimed for a paused campaign
        Stores(w.database).campaigns.change(
            "c", "resume", actor="m", reason="fixed", at=datetime.now(UTC)
        )
        w.run_until_done()
        exactly_once(w.emulator.stats(), 60)


class FrozenClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment

    def real_seconds(self, seconds: float) -> float:
        return seconds

    def clock_seconds(self, real: float) -> float:
        return real


def test_an_abandoned_batch_is_sent_once_after_its_lease(database_url: str, tmp_path: Path) -> None:
    clock = FrozenClock(datetime.now(UTC))
    with world(database_url, tmp_path, recipients=50, clock=clock) as w:
        abandoned = w.runtime.dispatch()  # claimed, then the worker "dies"
        assert w.runtime.dispatch() == []  # claimed rows are not handed out twice
        clock.moment += timedelta(seconds=301)
        assert w.runtime.reconcile().expired_leases == 50
        w.run_until_done()
        # the dead batch comes back (a redelivered task) but owns nothing any more
        assert all(w.runtime.run_batch(b.to_message())["accepted"] == 0 for b in abandoned)
        exactly_once(w.emulator.stats(), 50)


def test_domain_caps_bind_and_are_counted(database_url: str, tmp_path: Path) -> None:
    plan = """
name: tight
quota: {per_minute: 100, per_hour: 1000, headroom: 1.0}
steps:
  - {per_minute: 7, per_hour: 20, per_day: 100}
"""
    with world(database_url, tmp_path, recipients=100, plan_yaml=plan) as w:
        first = w.runtime.dispatch()
        assert sum(len(b.row_ids) for b in first) == 7  # the minute cap
        for batch in first:
            w.runtime.run_batch(batch.to_message())
        assert w.runtime.dispatch() == []  # the limiter remembers the 7
        assert w.emulator.stats()["accepted"] == 7


def test_late_outcomes_are_polled_within_a_budget_then_called_unknown(
    database_url: str, tmp_path: Path
) -> None:
    from warmup.ledger.outcomes import OutcomeFallback
    from warmup.pipeline.outcome_poll import StatusPoller

    with world(
        database_url, tmp_path, recipients=30, failure_rate=0.5, status_delay_seconds=0
    ) as w:
        w.run_until_done()
        fallback = OutcomeFallback(w.database)
        poller = StatusPoller(
            fallback,
            w.runtime.limiter,
            w.runtime.scope,
            w.runtime.fetch_statuses,
            poll_after=0.001,
            per_minute=40,
            unknown_after=3600,
        )
        now = datetime.now(UTC) + timedelta(seconds=1)
        first = poller.run(now)
        assert first.polled == 20  # sampling's half of the budget, not the 30 rows waiting
        assert poller.run(now + timedelta(seconds=1)).polled == 0  # budget spent for this minute
        assert w.emulator.stats()["status_requests"] == 20
        with w.database.session() as session:
            outcomes = dict(
                session.execute(
                    select(LedgerRow.outcome, func.count()).group_by(LedgerRow.outcome)
                ).all()
            )
        assert outcomes.get("failed", 0) == first.failed > 0  # operations ACS says Failed
        assert (
            fallback.give_up(accepted_before=now + timedelta(hours=1), at=now) == 30 - first.failed
        )
        with w.database.session() as session:
            assert session.scalar(select(func.count()).where(LedgerRow.outcome.is_(None))) == 0


CAPPED = """
name: capped
quota: {per_minute: 1000, per_hour: 100000, headroom: 1.0}
steps:
  - {per_hour: 60, per_day: 1000}
"""


def test_after_redis_loses_the_windows_the_hourly_cap_still_holds(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=200, plan_yaml=CAPPED) as w:
        w.send_until_quiet()
        assert w.emulator.stats()["accepted"] == 60  # the hour's cap, spent
        w.lose_limiter_state()
        assert not w.runtime.limiter.restored()
        w.send_until_quiet()
        # Rebuilt from the ledger on the next tick: the hour is still spent.
        assert w.runtime.limiter.restored()
        assert w.emulator.stats()["accepted"] == 60


def test_a_batch_task_returns_once_its_rows_are_out_and_the_next_shares_its_slots(
    database_url: str, tmp_path: Path
) -> None:
    """A send task returns when every row of its batch is out, before the last answers: the
    next batch starts in the slots those free, and the process never has more requests out
    than its send concurrency. The tail's results still reach the ledger, exactly once."""
    import bisect

    latency = 0.3
    with world(
        database_url,
        tmp_path,
        recipients=120,
        latency_ms=latency * 1000,
        dedupe_operation_ids=False,
        settings_overrides={"batch_size": 60, "send_concurrency": 40},
    ) as w:
        first, second = w.runtime.dispatch()
        report = w.runtime.start_batch(first.to_message())
        # 60 rows through 40 slots: it returned once the last 20 were out, not answered.
        assert report["accepted"] < 60, report
        with w.database.session() as session:
            out = session.scalar(
                select(func.count()).where(LedgerRow.state.in_(["claimed", "sending"]))
            )
        assert out is not None
        assert out >= 60  # its tail, and the second batch's claim
        w.runtime.start_batch(second.to_message())
        assert w.runtime.finish_tails(30) == 0
        with w.database.session() as session:
            states = dict(
                session.execute(
                    select(LedgerRow.state, func.count()).group_by(LedgerRow.state)
                ).all()
            )
        stats = w.emulator.stats(include_recipients=True)
    assert states == {"accepted": 120}
    exactly_once(stats, 120)
    arrivals = sorted(stats["send_request_walls"])
    # Requests take the latency each: no window shorter than it may see more than 40 arrive.
    window = latency * 0.9
    busiest = max(
        bisect.bisect_left(arrivals, start + window) - i for i, start in enumerate(arrivals)
    )
    assert busiest <= 40


def test_rows_readied_ahead_of_a_free_slot_are_not_sent_after_a_pause(
    database_url: str, tmp_path: Path
) -> None:
    """A process readies rows (marked sending, checked against suppression) while its slots are
    all on the wire, so that a freed slot's next request leaves at once. A pause that lands
    while they wait stops them: they go back to pending, never posted."""
    import threading
    import time

    with world(
        database_url,
        tmp_path,
        recipients=20,
        latency_ms=1500,
        dedupe_operation_ids=False,
        settings_overrides={"send_concurrency": 4, "gate_ttl_seconds": 0.05},
    ) as w:
        (batch,) = w.runtime.dispatch()
        reports: list[dict[str, object]] = []
        sending = threading.Thread(
            target=lambda: reports.append(w.runtime.run_batch(batch.to_message()))
        )
        sending.start()
        deadline = time.monotonic() + 10
        while len(w.emulator.stats(include_recipients=True)["send_request_walls"]) < 4:
            assert time.monotonic() < deadline, "the first requests never left"
            time.sleep(0.01)
        with w.database.session() as session:
            readied = session.scalar(select(func.count()).where(LedgerRow.state == "sending"))
        assert readied == 8  # four on the wire, four more readied for the slots they free
        w.domains.transition(
            DOMAIN,
            lambda r: ops.pause(r.state, actor="ops", reason="spam trap", at=datetime.now(UTC)),
        )
        sending.join(timeout=30)
        assert not sending.is_alive()
        stats = w.emulator.stats(include_recipients=True)
        with w.database.session() as session:
            states = dict(
                session.execute(
                    select(LedgerRow.state, func.count()).group_by(LedgerRow.state)
                ).all()
            )
    assert len(stats["send_request_walls"]) == 4  # only the requests already on the wire
    assert states == {"accepted": 4, "pending": 16}
    assert reports[0]["accepted"] == 4
    assert reports[0]["released"] == 16
