"""Ledger figures per sending domain, for ``/metrics``, from the ledger's counters."""

from __future__ import annotations

from dataclasses import dataclass

from warmup.ledger import counters
from warmup.ledger.joins import campaign_domains
from warmup.store.database import Database


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
    """Read from the counters (never the ledger itself): flat in the size of the ledger."""
    totals: dict[tuple[str, str, str], tuple[int, int]] = {}
    with database.session() as session:
        campaigns = campaign_domains(session)
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
        campaigns = campaign_domains(session)
        for count in counters.counts(session):
            domain = campaigns.get(count.campaign_id, ("", ""))[0]
            if domain and count.outcome is not None:
                key = (domain, count.outcome)
                totals[key] = totals.get(key, 0) + count.rows
    return [
        OutcomeCount(domain, outcome, rows) for (domain, outcome), rows in sorted(totals.items())
    ]
