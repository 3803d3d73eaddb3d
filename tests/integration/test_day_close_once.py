"""A day is closed once: two housekeeping runs that read the domain before either closed the
day (overlapping runs on two dispatch workers) count it once, not twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from harness.pipeline_world import DOMAIN, add_domain
from warmup.clock import SystemClock
from warmup.domains.store import DomainStore
from warmup.ledger.store import LedgerStore
from warmup.pipeline.reconcile import Reconciler
from warmup.store.database import Database
from warmup.wiring import Stores

MORNING = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_two_runs_with_the_same_stale_read_close_a_day_once(database: Database) -> None:
    add_domain(database, now=MORNING)
    domains = DomainStore(database)
    housekeeping = Reconciler(
        domains, Stores(database).campaigns, LedgerStore(database), SystemClock()
    )
    housekeeping.close_days(domains.get(DOMAIN), MORNING)  # a new domain: its eve is closed
    stale = domains.get(DOMAIN)  # both runs read the domain the next morning...
    next_morning = MORNING + timedelta(days=1)
    first = housekeeping.close_days(stale, next_morning)  # ...one closes yesterday...
    counted = domains.get(DOMAIN).state
    assert counted.sending_days + counted.idle_days == 1
    again = housekeeping.close_days(stale, next_morning)  # ...the other comes second
    after = domains.get(DOMAIN)
    assert after.state.sending_days + after.state.idle_days == 1
    assert after.state == counted
    assert again == []  # no second set of transitions for the day
    assert first == []  # a quiet first day: counted, nothing to tell
    assert after.day_closed == MORNING.date().isoformat()
    # A run that read the domain while it was new does not move the closed day back.
    housekeeping.close_days(replace(stale, day_closed=None), next_morning)
    assert domains.get(DOMAIN).day_closed == MORNING.date().isoformat()
