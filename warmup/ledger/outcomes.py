"""What became of accepted rows: delivery reports, and the polling fallback when none comes.

A delivery report is the final word for its row; polling only fills in while reports are late,
and a row with neither for long enough is given the outcome ``unknown``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, or_, select, text, update
from sqlalchemy.orm import Session

from warmup.ledger.joins import campaign_cancelled
from warmup.ledger.states import LedgerState
from warmup.sending.mime import SMTP_KEY_PREFIX
from warmup.store.database import Database
from warmup.store.models import AWAITING_OUTCOME, LedgerRow, UtcDateTime

LOOKUP_CHUNK = 1000  # message ids per look-up query

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


@dataclass(frozen=True)
class ReportedOutcome:
    """A delivery report's outcome for one message and recipient, at ACS's time for it."""

    message_id: str
    address: str
    outcome: str
    detail: str
    reported_at: datetime


def known_rows(session: Session, message_ids: Collection[str]) -> set[tuple[str, str]]:
    """The (message id, address) of the rows that show these message ids: one query a
    thousand ids."""
    found: set[tuple[str, str]] = set()
    ordered = sorted(set(message_ids))
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        found |= {
            (str(message_id), address)
            for message_id, address in session.execute(
                select(LedgerRow.message_id, LedgerRow.address).where(
                    LedgerRow.message_id.in_(chunk)
                )
            )
        }
    return found


def apply_reports(
    session: Session,
    reports: Sequence[ReportedOutcome],
    at: datetime,
    known: set[tuple[str, str]] | None = None,
) -> set[tuple[str, str]]:
    """Record delivery reports' outcomes on their rows; return the (message id, address) of
    those whose row was found (``known``: already looked up with :func:`known_rows`). A row
    keeps a stronger outcome it already has (a bounce after a delivery applies; a delivery
    after a bounce does not undo it). ``reported_at`` is ACS's time: health windows judge by
    when it happened, not when it arrived (a back-filled month of logs must not land in
    today's window); a time before the row was accepted can only be clock skew between ACS and
    us, and the acceptance time is used then.

    One statement writes a whole batch on PostgreSQL (the reports as arrays), one executemany
    per outcome on SQLite: the webhook takes Event Grid batches of hundreds without a round
    trip per report."""
    if not reports:
        return set()
    found = known if known is not None else known_rows(session, [r.message_id for r in reports])
    by_outcome: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        if (report.message_id, report.address) in found:
            by_outcome.setdefault(report.outcome, []).append(
                {
                    "m_id": report.message_id,
                    "m_address": report.address,
                    "m_detail": report.detail,
                    "m_reported": report.reported_at,
                }
            )
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _write_outcomes_postgresql(connection, by_outcome, at)
    else:
        _write_outcomes(connection, by_outcome, at)
    return {(r.message_id, r.address) for r in reports} & found


def _write_outcomes(
    connection: Connection, by_outcome: Mapping[str, list[dict[str, Any]]], at: datetime
) -> None:
    """One executemany per outcome (SQLite; also the reference for the PostgreSQL form)."""
    reported = bindparam("m_reported", type_=UtcDateTime())
    for outcome, rows in by_outcome.items():
        statement = (
            update(LedgerRow)
            .where(
                LedgerRow.message_id == bindparam("m_id"),
                LedgerRow.address == bindparam("m_address"),
                # Checked in the statement, not from the look-up: another intake may have
                # written a stronger outcome since. (= … OR = …, not IN: an expanding IN
                # cannot be part of an executemany.)
                or_(
                    LedgerRow.outcome.is_(None),
                    *(LedgerRow.outcome == weaker for weaker in weaker_than(outcome)),
                ),
            )
            .values(
                outcome=outcome,
                outcome_detail=bindparam("m_detail"),
                outcome_at=case(
                    (LedgerRow.accepted_at > reported, LedgerRow.accepted_at), else_=reported
                ),
                updated_at=at,
            )
        )
        connection.execute(statement, rows)


# The same update for a whole batch in one statement: the reports as arrays, unnested and
# joined to their rows. The strength guard compares each row's outcome with the report's, the
# strengths passed as arrays too (OUTCOME_STRENGTH, the one table of them).
_UPDATE_FROM_ARRAYS = text(
    """
    UPDATE send_ledger AS l
    SET outcome = v.outcome,
        outcome_detail = v.detail,
        outcome_at = GREATEST(l.accepted_at, v.reported),
        updated_at = :at
    FROM unnest(
        CAST(:ids AS text[]), CAST(:addresses AS text[]), CAST(:outcomes AS text[]),
        CAST(:details AS text[]), CAST(:reported AS timestamptz[])
    ) AS v(message_id, address, outcome, detail, reported)
    WHERE l.message_id = v.message_id AND l.address = v.address
      AND (l.outcome IS NULL OR
           COALESCE((SELECT s.strength FROM unnest(CAST(:names AS text[]),
                     CAST(:strengths AS int[])) AS s(name, strength) WHERE s.name = l.outcome), 0)
           < COALESCE((SELECT s.strength FROM unnest(CAST(:names AS text[]),
                     CAST(:strengths AS int[])) AS s(name, strength) WHERE s.name = v.outcome), 0))
    """
)


def _write_outcomes_postgresql(
    connection: Connection, by_outcome: Mapping[str, list[dict[str, Any]]], at: datetime
) -> None:
    rows = [(outcome, row) for outcome, group in by_outcome.items() for row in group]
    connection.execute(
        _UPDATE_FROM_ARRAYS,
        {
            "at": at,
            "ids": [row["m_id"] for _, row in rows],
            "addresses": [row["m_address"] for _, row in rows],
            "outcomes": [outcome for outcome, _ in rows],
            "details": [row["m_detail"] for _, row in rows],
            "reported": [row["m_reported"] for _, row in rows],
            "names": list(OUTCOME_STRENGTH),
            "strengths": list(OUTCOME_STRENGTH.values()),
        },
    )


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
                # The partial index's own words, literally: a bound parameter for the state
                # would keep PostgreSQL's generic plans from proving they match it.
                text(AWAITING_OUTCOME),
                LedgerRow.message_id.is_not(None),
                # Sent over SMTP: the status API knows no operation of ours to answer for.
                LedgerRow.message_id.not_like(f"{SMTP_KEY_PREFIX}%"),
                LedgerRow.accepted_at < accepted_before,
                or_(
                    LedgerRow.status_checked_at.is_(None),
                    LedgerRow.status_checked_at < checked_before,
                ),
            )
            # Oldest first, along the partial index of rows awaiting their report: the reads stay
            # a few index entries past those polled recently, however large the ledger.
            .order_by(LedgerRow.accepted_at)
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
            values.update(
                state=case(
                    (campaign_cancelled(), LedgerState.SKIPPED.value),
                    else_=LedgerState.PENDING.value,
                ),
                last_error="ACS did not know the operation: safe to send again",
            )
        with self._db.engine.begin() as connection:
            result = connection.execute(
                update(LedgerRow)
                .where(LedgerRow.id == row_id, LedgerRow.state == LedgerState.VERIFYING.value)
                .values(**values)
            )
            return bool(result.rowcount)
