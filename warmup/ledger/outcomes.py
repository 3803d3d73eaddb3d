"""What became of accepted rows: delivery reports, and the polling fallback when none comes.

A delivery report is the final word for its row; polling only fills in while reports are late,
and a row with neither for long enough is given the outcome ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from warmup.ledger.states import LedgerState
from warmup.store.database import Database
from warmup.store.models import LedgerRow


def apply_report(
    session: Session,
    *,
    message_id: str,
    address: str,
    outcome: str,
    detail: str,
    at: datetime,
) -> bool:
    """Record a delivery report's outcome on its row; False if no row matches (yet)."""
    written = session.execute(
        update(LedgerRow)
        .where(
            LedgerRow.message_id == message_id,
            LedgerRow.address == address,
            # A report is the final word: it replaces what polling guessed, not another report.
            or_(LedgerRow.outcome.is_(None), LedgerRow.outcome.in_(["unknown", "failed"])),
        )
        .values(
            outcome=outcome,
            outcome_detail=detail,
            # When we learned it, on our clock: robust to skew with ACS's clock, and a late
            # report still counts in the health window when it arrives.
            outcome_at=at,
            updated_at=at,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(written.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AwaitingOutcome:
    id: int
    message_id: str


class OutcomeFallback:
    """Rows ACS accepted whose delivery report has not come: sampled polling, then unknown."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def sample(
        self, *, accepted_before: datetime, checked_before: datetime, limit: int
    ) -> list[AwaitingOutcome]:
        if limit <= 0:
            return []
        query = (
            select(LedgerRow.id, LedgerRow.message_id)
            .where(
                LedgerRow.state == LedgerState.ACCEPTED.value,
                LedgerRow.outcome.is_(None),
                LedgerRow.message_id.is_not(None),
                LedgerRow.accepted_at < accepted_before,
                or_(
                    LedgerRow.status_checked_at.is_(None),
                    LedgerRow.status_checked_at < checked_before,
                ),
            )
            .order_by(func.random())
            .limit(limit)
        )
        with self._db.session() as session:
            return [AwaitingOutcome(row.id, str(row.message_id)) for row in session.execute(query)]

    def record(self, statuses: Mapping[int, tuple[str, str | None]], at: datetime) -> int:
        """Store polled statuses: a Failed operation is an outcome; others are only checked."""
        failed = 0
        with self._db.session() as session:
            for row_id, (status, error) in statuses.items():
                values: dict[str, Any] = {"status_checked_at": at, "updated_at": at}
                if status in {"Failed", "Canceled"}:
                    values.update(
                        outcome="failed",
                        outcome_detail=f"operation {status}: {error or 'no detail'}",
                        outcome_at=at,
                    )
                    failed += 1
                session.execute(
                    update(LedgerRow)
                    .where(LedgerRow.id == row_id, LedgerRow.outcome.is_(None))
                    .values(**values)
                )
        return failed

    def give_up(self, *, accepted_before: datetime, at: datetime) -> int:
        """Rows still without an outcome long after they were accepted: outcome ``unknown``."""
        with self._db.engine.begin() as connection:
            result = connection.execute(
                update(LedgerRow)
                .where(
                    LedgerRow.state == LedgerState.ACCEPTED.value,
                    LedgerRow.outcome.is_(None),
                    LedgerRow.accepted_at < accepted_before,
                )
                .values(
                    outcome="unknown",
                    outcome_detail="no delivery report and no final status",
                    outcome_at=at,
                    updated_at=at,
                )
            )
            return int(result.rowcount or 0)
