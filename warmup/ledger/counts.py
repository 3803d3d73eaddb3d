"""Ledger figures per sending domain, for ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from warmup.store.database import Database
from warmup.store.models import Campaign, LedgerRow, SendingDomain


@dataclass(frozen=True)
class StateCount:
    domain: str
    kind: str  # the campaign's: "bulk", or "relay" (the domain's transactional stream)
    state: str
    rows: int
    attempts: int


@dataclass(frozen=True)
class OutcomeCount:
    domain: str
    outcome: str
    rows: int


def by_domain_and_state(database: Database) -> list[StateCount]:
    query = (
        select(
            SendingDomain.name,
            Campaign.kind,
            LedgerRow.state,
            func.count(),
            func.sum(LedgerRow.attempts),
        )
        .join(Campaign, Campaign.id == LedgerRow.campaign_id)
        .join(SendingDomain, SendingDomain.id == Campaign.domain_id)
        .group_by(SendingDomain.name, Campaign.kind, LedgerRow.state)
    )
    with database.session() as session:
        return [
            StateCount(name, kind, state, int(count), int(calls or 0))
            for name, kind, state, count, calls in session.execute(query)
        ]


def outcomes_by_domain(database: Database) -> list[OutcomeCount]:
    query = (
        select(SendingDomain.name, LedgerRow.outcome, func.count())
        .join(Campaign, Campaign.id == LedgerRow.campaign_id)
        .join(SendingDomain, SendingDomain.id == Campaign.domain_id)
        .where(LedgerRow.outcome.is_not(None))
        .group_by(SendingDomain.name, LedgerRow.outcome)
    )
    with database.session() as session:
        return [
            OutcomeCount(name, str(outcome), int(count))
            for name, outcome, count in session.execute(query)
        ]
