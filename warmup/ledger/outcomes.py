"""What became of accepted rows: delivery reports, and the polling fallback when none comes.

A delivery report is the final word for its row; polling only fills in while reports are late,
and a row with neither for long enough is given the outcome ``unknown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from warmup.ledger.states import LedgerState
from warmup.store.database import Database
from warmup.store.models import Campaign, LedgerRow, UtcDateTime

# How much an outcome says. A report replaces a weaker outcome and never a stronger one: a
# bounce after a delivery applies, a delivery after a bounce does not undo it. What status
# polling guessed ("failed", "unknown") is the weakest: any report replaces it.
OUTCOME_STRENGTH = {
    "unknown": 0,
    "failed": 0,
    "delivered": 1,
    "suppressed": 2,
    "soft_failure": 2,
    "hard_bounce": 3,
    "complaint": 3,
}


def weaker_than(outcome: str) -> list[str]:
    mine = OUTCOME_STRENGTH.get(outcome, 0)
    return [name for name, strength in OUTCOME_STRENGTH.items() if strength < mine]


def apply_report(
    session: Session,
    *,
    message_id: str,
    address: str,
    outcome: str,
    detail: str,
    reported_at: datetime,
    at: datetime,
) -> bool:
    """Record a delivery report's outcome on its row; False if no row takes it (none matches
    yet, or the row already has a stronger outcome). ``reported_at`` is ACS's time for it:
    health windows judge by when it happened, not when it arrived (a back-filled month of logs
    must not land in today's window). A time before the row was accepted can only be clock
    skew between ACS and us; the acceptance time is used then."""
    reported = bindparam("reported", reported_at, type_=UtcDateTime())
    when = case((LedgerRow.accepted_at > reported, LedgerRow.accepted_at), else_=reported)
    written = session.execute(
        update(LedgerRow)
        .where(
            LedgerRow.message_id == message_id,
            LedgerRow.address == address,
            or_(LedgerRow.outcome.is_(None), LedgerRow.outcome.in_(weaker_than(outcome))),
        )
        .values(outcome=outcome, outcome_detail=detail, outcome_at=when, updated_at=at)
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


@dataclass(frozen=True)
class InDoubt:
    id: int
    operation_id: str


@dataclass(frozen=True)
class AcsAnswer:
    """What ``GET /emails/operations/{id}`` said of a row in doubt; ``None`` for "unknown id"."""

    message_id: str
    status: str
    error: str | None = None


class DoubtfulRows:
    """Rows that may have reached ACS: asked about one by one, within the status-GET budget."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def waiting(self, limit: int) -> list[InDoubt]:
        """The rows in doubt longest first."""
        if limit <= 0:
            return []
        query = (
            select(LedgerRow.id, LedgerRow.operation_id)
            .where(LedgerRow.state == LedgerState.VERIFYING.value)
            .order_by(LedgerRow.updated_at, LedgerRow.id)
            .limit(limit)
        )
        with self._db.session() as session:
            return [InDoubt(row.id, row.operation_id) for row in session.execute(query)]

    def settle(self, row_id: int, answer: AcsAnswer | None, at: datetime) -> bool:
        """ACS knows the id: the row was accepted (its status kept). ACS does not: it may be
        sent again (``pending``), or ``skipped`` if its campaign was cancelled meanwhile."""
        values: dict[str, Any] = {"updated_at": at}
        if answer is not None:
            values.update(
                state=LedgerState.ACCEPTED.value,
                message_id=answer.message_id,
                accepted_at=at,
                last_error=f"ACS knew the operation ({answer.status}): not sent again",
            )
            if answer.status in {"Failed", "Canceled"}:
                values.update(
                    outcome="failed",
                    outcome_detail=f"operation {answer.status}: {answer.error or 'no detail'}",
                    outcome_at=at,
                )
        else:
            cancelled = (
                select(Campaign.id)
                .where(Campaign.id == LedgerRow.campaign_id, Campaign.status == "cancelled")
                .exists()
            )
            values.update(
                state=case((cancelled, LedgerState.SKIPPED.value), else_=LedgerState.PENDING.value),
                last_error="ACS did not know the operation: safe to send again",
            )
        with self._db.engine.begin() as connection:
            result = connection.execute(
                update(LedgerRow)
                .where(LedgerRow.id == row_id, LedgerRow.state == LedgerState.VERIFYING.value)
                .values(**values)
            )
            return bool(result.rowcount)
