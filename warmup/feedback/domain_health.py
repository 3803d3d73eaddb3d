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
from warmup.control.machine import Decision, on_readings
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
    """What the domain's gates say of its window ending at ``now``."""
    return judge(window_counts(database, record, now), record.plan.gates)


# A judgement whose basis keeps moving under it is left to the next run of the feedback loop.
MAX_READINGS = 3


class _StaleReadings(Exception):
    """The domain's window changed between reading the reports and applying the verdict."""

    def __init__(self, current: DomainRecord) -> None:
        super().__init__(current.state.domain)
        self.current = current


def _window_basis(record: DomainRecord) -> tuple[object, ...]:
    """What a judgement depends on besides the reports: where the window starts (an ops resume
    moves it), the plan's gates, and the provider groups already held."""
    return (record.state.health_since, record.plan, record.state.held_providers)


def judge_domain(
    database: Database, domains: DomainStore, domain: str, now: datetime
) -> tuple[Verdict, Decision]:
    """Judge the domain's window and apply the verdict (hold, pause, release) in the store;
    then each provider group's own window by its own gates (hold, pause, release of that
    group's traffic only).

    The window is read before the domain's row is written. A verdict read from a window an ops
    resume has since replaced must not be applied: it would pause the domain again on the very
    reports the resume set aside. So the verdict is applied only if the window's basis is still
    the one it was read on, and is read again otherwise.
    """
    record = domains.get(domain)
    for _ in range(MAX_READINGS):
        verdict, verdicts = _readings(database, record, now)
        try:
            return verdict, domains.transition(domain, _decider(record, verdict, verdicts, now))
        except _StaleReadings as stale:
            record = stale.current
    return verdict, Decision(record.state)


def _decider(
    read_on: DomainRecord, verdict: Verdict, verdicts: dict[ProviderGroup, Verdict], now: datetime
) -> Callable[[DomainRecord], Decision]:
    """The verdicts read on ``read_on``'s window, applied to the domain's current state if
    that window is still the domain's."""
    basis = _window_basis(read_on)

    def decide(current: DomainRecord) -> Decision:
        if _window_basis(current) != basis:
            raise _StaleReadings(current)
        return on_readings(current.plan, current.state, verdict, verdicts, at=now)

    return decide


def _readings(
    database: Database, record: DomainRecord, now: datetime
) -> tuple[Verdict, dict[ProviderGroup, Verdict]]:
    """The domain's verdict on its whole window, and each provider group's on its own share."""
    by_group = provider_window_counts(database, record, now)
    verdict = judge(sum(by_group.values(), OutcomeCounts()), record.plan.gates)
    # A held group sends nothing, so its window only empties: it is judged on what is left
    # (nothing at all, once its failures have aged out).
    groups = set(by_group) | record.state.held_providers
    verdicts = {
        group: judge(by_group.get(group, OutcomeCounts()), record.plan.gates_for(group))
        for group in sorted(groups)
    }
    return verdict, verdicts
