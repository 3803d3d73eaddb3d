"""The send ledger at work: claims with leases, results, expired leases.

A claim moves ``pending`` rows to ``claimed`` under a lease (an owner, the batch id, and a
deadline). Only the owner of a live claim may record a result, and only a ``claimed`` row is
ever sent, so a row ``accepted`` once is never sent again. A batch that dies (killed worker,
lost queue) leaves claims whose deadline passes; :meth:`LedgerStore.expire_leases` returns them
to ``pending``, and their Operation-Id (fixed per row) makes any resend idempotent at ACS.

Claims take the lowest ``rank`` first (most engaged). On PostgreSQL concurrent claimers skip each
other's locked rows (``FOR UPDATE SKIP LOCKED``); SQLite serialises writers, so one
``UPDATE … RETURNING`` is atomic there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, select, text, update

from warmup.ledger.states import LedgerState
from warmup.store.database import Database
from warmup.store.models import Campaign, LedgerRow, Recipient, UtcDateTime

CLAIMED = LedgerState.CLAIMED.value
PENDING = LedgerState.PENDING.value


@dataclass(frozen=True)
class WorkItem:
    id: int
    campaign_id: int
    address: str
    provider: str
    operation_id: str
    attempts: int
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class SendResult:
    """What became of one claimed row."""

    id: int
    state: LedgerState  # ACCEPTED, FAILED, or PENDING (released: try again later)
    attempts: int  # HTTP attempts made for it in this batch
    message_id: str | None = None
    error: str | None = None


_CLAIM_SQL = {
    "postgresql": """
        WITH chosen AS (
            SELECT id FROM send_ledger
            WHERE campaign_id = :campaign AND state = 'pending' {provider_filter}
            ORDER BY rank LIMIT :n FOR UPDATE SKIP LOCKED
        )
        UPDATE send_ledger AS s SET state = 'claimed', lease_owner = :owner,
            lease_deadline = :deadline, updated_at = :now
        FROM chosen WHERE s.id = chosen.id
        RETURNING s.id
    """,
    "sqlite": """
        UPDATE send_ledger SET state = 'claimed', lease_owner = :owner,
            lease_deadline = :deadline, updated_at = :now
        WHERE id IN (
            SELECT id FROM send_ledger
            WHERE campaign_id = :campaign AND state = 'pending' {provider_filter}
            ORDER BY rank LIMIT :n
        )
        RETURNING id
    """,
}


class LedgerStore:
    def __init__(self, database: Database) -> None:
        self._db = database
        self._dialect = database.engine.dialect.name

    def claim(
        self,
        campaign_id: int,
        n: int,
        *,
        owner: str,
        deadline: datetime,
        now: datetime,
        provider: str | None = None,
    ) -> list[int]:
        """Lease up to ``n`` pending rows of a campaign (of one provider group if given)."""
        if n <= 0:
            return []
        provider_filter = "AND provider = :provider" if provider else ""
        statement = text(
            _CLAIM_SQL[self._dialect].format(provider_filter=provider_filter)
        ).bindparams(
            bindparam("deadline", type_=UtcDateTime()), bindparam("now", type_=UtcDateTime())
        )
        params: dict[str, Any] = {
            "campaign": campaign_id,
            "n": n,
            "owner": owner,
            "deadline": deadline,
            "now": now,
        }
        if provider:
            params["provider"] = provider
        with self._db.engine.begin() as connection:
            return sorted(row[0] for row in connection.execute(statement, params))

    def work(self, ids: Sequence[int], owner: str) -> list[WorkItem]:
        """The rows of a batch still claimed by it, in rank order, with their recipient fields."""
        if not ids:
            return []
        query = (
            select(
                LedgerRow.id,
                LedgerRow.campaign_id,
                LedgerRow.address,
                LedgerRow.provider,
                LedgerRow.operation_id,
                LedgerRow.attempts,
                Recipient.fields,
            )
            .outerjoin(Recipient, Recipient.id == LedgerRow.recipient_id)
            .where(
                LedgerRow.id.in_(ids), LedgerRow.state == CLAIMED, LedgerRow.lease_owner == owner
            )
            .order_by(LedgerRow.rank)
        )
        with self._db.session() as session:
            return [
                WorkItem(
                    id=row.id,
                    campaign_id=row.campaign_id,
                    address=row.address,
                    provider=row.provider,
                    operation_id=row.operation_id,
                    attempts=row.attempts,
                    fields=row.fields or {},
                )
                for row in session.execute(query)
            ]

    def record(self, outcomes: Sequence[SendResult], owner: str, at: datetime) -> int:
        """Store results in bulk; rows no longer claimed by ``owner`` are left alone."""
        if not outcomes:
            return 0
        values = [
            {
                "row_id": o.id,
                "owner": owner,
                "new_state": o.state.value,
                "message_id": o.message_id,
                "error": o.error,
                "tries": o.attempts,
                "accepted_at": at if o.state is LedgerState.ACCEPTED else None,
                "now": at,
            }
            for o in outcomes
        ]
        table = cast(Table, LedgerRow.__table__)
        statement = (
            update(table)
            .where(
                and_(
                    table.c.id == bindparam("row_id"),
                    table.c.state == CLAIMED,
                    table.c.lease_owner == bindparam("owner"),
                )
            )
            .values(
                state=bindparam("new_state"),
                message_id=func.coalesce(bindparam("message_id"), table.c.message_id),
                last_error=bindparam("error"),
                attempts=table.c.attempts + bindparam("tries"),
                accepted_at=bindparam("accepted_at"),
                lease_owner=None,
                lease_deadline=None,
                updated_at=bindparam("now"),
            )
        )
        with self._db.engine.begin() as connection:
            result = connection.execute(statement, values)
            return int(result.rowcount or 0)

    def expire_leases(self, now: datetime) -> int:
        """Return claims whose lease has passed to ``pending``."""
        with self._db.engine.begin() as connection:
            result = connection.execute(
                update(LedgerRow)
                .where(LedgerRow.state == CLAIMED, LedgerRow.lease_deadline < now)
                .values(
                    state=PENDING,
                    lease_owner=None,
                    lease_deadline=None,
                    updated_at=now,
                    last_error="lease expired",
                )
            )
            return int(result.rowcount or 0)

    def in_flight(self, domain_id: int) -> int:
        """Rows of the domain claimed and not yet sent: already promised out of its allowance."""
        query = (
            select(func.count())
            .select_from(LedgerRow)
            .join(Campaign, Campaign.id == LedgerRow.campaign_id)
            .where(Campaign.domain_id == domain_id, LedgerRow.state == CLAIMED)
        )
        with self._db.session() as session:
            return int(session.scalar(query) or 0)

    def accepted_since(self, domain_id: int, since: datetime, until: datetime | None = None) -> int:
        query = (
            select(func.count())
            .select_from(LedgerRow)
            .join(Campaign, Campaign.id == LedgerRow.campaign_id)
            .where(Campaign.domain_id == domain_id, LedgerRow.accepted_at >= since)
        )
        if until is not None:
            query = query.where(LedgerRow.accepted_at < until)
        with self._db.session() as session:
            return int(session.scalar(query) or 0)
