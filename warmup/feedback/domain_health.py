"""A domain's health from what its mail became, and the decision the gates take on it.

The rolling window is read from the ledger's outcomes (``outcome_at`` in the last
``gates.window_hours``, and never before the last resume), so every writer — the webhook intake,
status polling — feeds one window and a verdict always sees them all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from warmup.control.health import OutcomeCounts, Verdict, judge
from warmup.control.machine import Decision, on_health
from warmup.domains.record import DomainRecord
from warmup.domains.store import DomainStore
from warmup.store.database import Database
from warmup.store.models import Campaign, LedgerRow

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
    since = now - timedelta(hours=record.plan.gates.window_hours)
    if record.state.health_since is not None:
        since = max(since, record.state.health_since)
    query = (
        select(LedgerRow.outcome, func.count())
        .join(Campaign, Campaign.id == LedgerRow.campaign_id)
        .where(
            Campaign.domain_id == record.id,
            LedgerRow.outcome_at >= since,
            LedgerRow.outcome_at <= now,
        )
        .group_by(LedgerRow.outcome)
    )
    if campaign_id is not None:
        query = query.where(LedgerRow.campaign_id == campaign_id)
    counts: dict[str, int] = {}
    with database.session() as session:
        for outcome, n in session.execute(query).all():
            key = HEALTH_CLASS.get(str(outcome))
            if key is not None:
                counts[key] = counts.get(key, 0) + int(n)
    return OutcomeCounts(**counts)


def judge_domain(database: Database, domain: str, now: datetime) -> tuple[Verdict, Decision]:
    """Judge the domain's window and apply the verdict (hold, pause, release) in the store."""
    domains = DomainStore(database)
    record = domains.get(domain)
    verdict = judge(window_counts(database, record, now), record.plan.gates)
    decision = domains.transition(
        domain, lambda current: on_health(current.plan, current.state, verdict, at=now)
    )
    return verdict, decision
