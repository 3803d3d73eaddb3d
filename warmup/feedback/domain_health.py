"""A domain's health from what its mail became, and the decision the gates take on it.

The rolling window is read from the ledger's outcomes (``outcome_at`` in the last
``gates.window_hours``, and never before the last resume), so every writer — the webhook intake,
status polling — feeds one window and a verdict always sees them all. The domain's window comes
from the outcome counters the ledger's triggers keep (exact: see
:func:`warmup.ledger.counters.outcomes_between`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from warmup.control.health import OutcomeCounts, Verdict, judge
from warmup.control.machine import Decision, Reports, on_readings, report_sinces
from warmup.domains.record import DomainRecord
from warmup.domains.store import DomainStore
from warmup.ledger import counters
from warmup.plans.model import ProviderGroup
from warmup.store.database import Database

# Ledger outcomes counted as which health class ("unknown" tells nothing, so it is left out).
HEALTH_CLASS = {
    "delivered": "delivered",
    "hard_bounce": "hard_bounce",
    "soft_failure": "soft_failure",
    "failed": "soft_failure",  # a Failed operation status, from polling
    "complaint": "complaint",
    "suppressed": "suppressed",
}


def window_counts(
    database: Database, record: DomainRecord, now: datetime, campaign_id: int | None = None
) -> OutcomeCounts:
    """Outcomes in the domain's health window; of one campaign's mail only, if given.

    The gates judge the domain; a campaign's own window shows which campaign (which list)
    brings the failures, so marketing can stop it before it costs the domain its ramp.
    """
    return sum(_window(database, record, now, campaign_id).values(), OutcomeCounts())


def provider_window_counts(
    database: Database, record: DomainRecord, now: datetime
) -> dict[ProviderGroup, OutcomeCounts]:
    """The domain's health window per provider group of the recipients (groups with reports)."""
    return _window(database, record, now)


def _window(
    database: Database, record: DomainRecord, now: datetime, campaign_id: int | None = None
) -> dict[ProviderGroup, OutcomeCounts]:
    since = now - timedelta(hours=record.plan.gates.window_hours)
    if record.state.health_since is not None:
        since = max(since, record.state.health_since)
    return _window_from(database, record, since, now, campaign_id)


def _window_from(
    database: Database,
    record: DomainRecord,
    since: datetime,
    now: datetime,
    campaign_id: int | None = None,
) -> dict[ProviderGroup, OutcomeCounts]:
    counts: dict[ProviderGroup, dict[str, int]] = {}
    with database.session() as session:
        if campaign_id is None:
            # The domain's window, from the outcome counters: a scrape or a gate never reads
            # more of the ledger than the window's two ragged quarter hours.
            found = list(counters.outcomes_between(session, record.id, since, now).items())
        else:  # one campaign's share: its rows in the window, by the outcome_at index
            found = list(
                counters.campaign_outcomes_between(session, campaign_id, since, now).items()
            )
    for (provider, outcome), n in found:
        key = HEALTH_CLASS.get(outcome)
        if key is None:
            continue
        group = counts.setdefault(_group(provider), {})
        group[key] = group.get(key, 0) + n
    return {group: OutcomeCounts(**c) for group, c in counts.items()}


def _group(provider: str) -> ProviderGroup:
    try:
        return ProviderGroup(provider)
    except ValueError:
        return ProviderGroup.OTHER


def window_verdict(database: Database, record: DomainRecord, now: datetime) -> Verdict:
    """What the domain's gates say of its whole window ending at ``now`` (every group), with
    the groups that drove it."""
    by_group = provider_window_counts(database, record, now)
    parts = {group.value: counts for group, counts in by_group.items()}
    return judge(sum(by_group.values(), OutcomeCounts()), record.plan.gates, parts)


# A judgement whose basis keeps moving under it is left to the next run of the feedback loop.
MAX_READINGS = 3


class _StaleReadings(Exception):
    """The domain's window changed between reading the reports and applying the verdict."""

    def __init__(self, current: DomainRecord) -> None:
        super().__init__(current.state.domain)
        self.current = current


def _window_basis(record: DomainRecord) -> tuple[object, ...]:
    """What a judgement depends on besides the reports: where the windows start (an ops resume
    or a release moves them), the plan's gates, the holds, and the domain's status."""
    state = record.state
    # Everything ``report_sinces`` reads: the readings are keyed by the moments it named.
    return (
        state.health_since,
        record.plan,
        state.provider_holds,
        state.gate_marks,
        state.status,
        state.held_by,
        state.since,
    )


def judge_domain(
    database: Database, domains: DomainStore, domain: str, now: datetime
) -> tuple[Verdict, Decision]:
    """Read the domain's reports and apply what its gates decide (:func:`on_readings`): each
    provider group's gates (hold but for a probe, pause, release that group's traffic), then
    the domain's on the groups that send normally.

    The reports are read before the domain's row is written. Readings taken on a basis an ops
    resume (or another decision) has since replaced must not be applied: they would pause the
    domain again on the very reports the resume set aside. So they are applied only if the
    basis is still the one they were read on, and read again otherwise.
    """
    record = domains.get(domain)
    for _ in range(MAX_READINGS):
        reports = read_reports(database, record, now)
        try:
            decision = domains.transition(domain, _decider(record, reports, now))
            return window_verdict(database, record, now), decision
        except _StaleReadings as stale:
            record = stale.current
    return window_verdict(database, record, now), Decision(record.state)


def read_reports(database: Database, record: DomainRecord, now: datetime) -> Reports:
    """Each provider group's report counts from each moment the gates need (``report_sinces``):
    the window, after the last resume or release, and since each current hold began."""
    found: dict[datetime, dict[ProviderGroup, OutcomeCounts]] = {}
    for since in report_sinces(record.plan, record.state, now):
        found[since] = _window_from(database, record, since, now)
    return found


def _decider(
    read_on: DomainRecord, reports: Reports, now: datetime
) -> Callable[[DomainRecord], Decision]:
    """The readings taken on ``read_on``'s basis, applied to the domain's current state if
    that basis is still the domain's."""
    basis = _window_basis(read_on)

    def decide(current: DomainRecord) -> Decision:
        if _window_basis(current) != basis:
            raise _StaleReadings(current)
        return on_readings(current.plan, current.state, reports, at=now)

    return decide
