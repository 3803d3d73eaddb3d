"""Recoveries from lapsed leases, as status shows them: what came back unsent, what was in doubt.

One row per lapsed batch (``lease_recoveries``, written by :meth:`LedgerStore.settle_lapsed`).
Few rows, read by campaign (its index) or summed per domain for /metrics.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select

from warmup.ledger.joins import DOMAIN_NAME, in_domain, through_domain
from warmup.ledger.states import LedgerState
from warmup.store.database import Database
from warmup.store.models import LeaseRecovery, LedgerRow


@dataclass(frozen=True)
class RecoveryTotals:
    batches: int = 0  # lapsed batches settled (their process died or hung)
    unsent: int = 0  # rows proved unsent by the wire journal: back to pending, no status GET
    answered: int = 0  # rows whose answer the journal kept: recorded, no status GET
    in_doubt: int = 0  # rows whose request may have left: asked at ACS (SMTP: taken)
    journals_lost: int = 0  # batches whose journal was gone: all their rows in doubt
    last_at: datetime | None = None


_TOTALS = (
    func.count(),
    func.coalesce(func.sum(LeaseRecovery.unsent), 0),
    func.coalesce(func.sum(LeaseRecovery.answered), 0),
    func.coalesce(func.sum(LeaseRecovery.in_doubt), 0),
    func.coalesce(func.sum(case((LeaseRecovery.journal_lost, 1), else_=0)), 0),
    func.max(LeaseRecovery.at),
)


def _totals(row: Sequence[Any]) -> RecoveryTotals:
    batches, unsent, answered, in_doubt, lost, last_at = row
    return RecoveryTotals(
        int(batches), int(unsent), int(answered), int(in_doubt), int(lost), last_at
    )


def recovery_totals(database: Database, campaign_ids: Collection[int]) -> RecoveryTotals:
    """What recoveries did to these campaigns' rows, all told."""
    if not campaign_ids:
        return RecoveryTotals()
    query = select(*_TOTALS).where(LeaseRecovery.campaign_id.in_(list(campaign_ids)))
    with database.session() as session:
        return _totals(session.execute(query).one())


def recovery_totals_by_domain(database: Database) -> dict[str, RecoveryTotals]:
    """Each domain's recoveries by name, all told (for /metrics: counters that only grow)."""
    query = through_domain(select(DOMAIN_NAME, *_TOTALS), LeaseRecovery.campaign_id).group_by(
        DOMAIN_NAME
    )
    with database.session() as session:
        return {str(row[0]): _totals(row[1:]) for row in session.execute(query)}


def domain_recovery(database: Database, domain_id: int) -> tuple[RecoveryTotals, int]:
    """A domain's recoveries, all told, and its rows in doubt now (``verifying``: few, read
    through the rows-in-doubt index)."""
    totals = in_domain(select(*_TOTALS), domain_id, LeaseRecovery.campaign_id)
    doubtful = in_domain(select(func.count()).select_from(LedgerRow), domain_id).where(
        LedgerRow.state == LedgerState.VERIFYING.value
    )
    with database.session() as session:
        return _totals(session.execute(totals).one()), int(session.scalar(doubtful) or 0)
