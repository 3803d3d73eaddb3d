"""Ledger figures per sending domain, for ``/metrics``, from the ledger's counters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from warmup.ledger import counters
from warmup.store.database import Database
from warmup.store.models import Campaign, SendingDomain


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


def _campaigns(session: Session) -> dict[int, tuple[str, str]]:
    """Each campaign's (domain name, kind): a few thousand rows at most."""
    query = select(Campaign.id, SendingDomain.name, Campaign.kind).join(
        SendingDomain, SendingDomain.id == Campaign.domain_id
    )
    return {int(id_): (str(name), str(kind)) for id_, name, kind in session.execute(query)}


def by_domain_and_state(database: Database) -> list[StateCount]:
    """Read from the counters (never the ledger itself): flat in the size of the ledger."""
    totals: dict[tuple[str, str, str], tuple[int, int]] = {}
    with database.session() as session:
        campaigns = _campaigns(session)
        for count in counters.counts(session):
            domain, kind = campaigns.get(count.campaign_id, ("", ""))
            if not domain:
                continue  # its campaign went while we read
            rows, calls = totals.get((domain, kind, count.state), (0, 0))
            totals[(domain, kind, count.state)] = (rows + count.rows, calls + count.attempts)
    return [
        StateCount(domain, kind, state, rows, calls)
        for (domain, kind, state), (rows, calls) in sorted(totals.items())
    ]


def outcomes_by_domain(database: Database) -> list[OutcomeCount]:
    totals: dict[tuple[str, str], int] = {}
    with database.session() as session:
        campaigns = _campaigns(session)
        for count in counters.counts(session):
            domain = campaigns.get(count.campaign_id, ("", ""))[0]
            if domain and count.outcome is not None:
                key = (domain, count.outcome)
                totals[key] = totals.get(key, 0) + count.rows
    return [
        OutcomeCount(domain, outcome, rows) for (domain, outcome), rows in sorted(totals.items())
    ]
