"""Delivery reports into the store: de-duplicated, matched to the ledger, suppressions written.

This module alone writes ``delivery_events``; the ledger and the suppression list are written by
their owners, in this intake's transaction.

Every report is kept once (its content key: message id + recipient + status), whatever its
event id and however often Event Grid delivers it. A report whose ledger row does not yet show
its message id (it can arrive before the worker recorded the send) stays unmatched and is
matched on a later pass. Hard bounces and complaints suppress the address at once; soft failures
only after ``soft_failures_to_suppress`` of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from warmup.control.health import Outcome
from warmup.feedback.reports import DeliveryReport, EngagementReport
from warmup.ledger.outcomes import apply_report
from warmup.store.database import Database
from warmup.store.models import DeliveryEvent, EngagementEvent
from warmup.suppression.store import suppress_in

SUPPRESSING = {Outcome.HARD_BOUNCE: "hard_bounce", Outcome.COMPLAINT: "complaint"}


@dataclass
class IngestReport:
    received: int = 0
    duplicates: int = 0
    matched: int = 0
    unmatched: int = 0
    ignored: int = 0
    suppressed: int = 0
    engagements: int = 0


FEEDBACK_ACTOR = "delivery-feedback"


def _suppress(session: Session, address: str, reason: str, source: str, at: datetime) -> bool:
    # In the intake's transaction: the report, its suppression and the audit entry together.
    # Permanent (no expiry): a hard bounce or complaint upgrades a temporary entry.
    return suppress_in(session, address, reason=reason, source=source, actor=FEEDBACK_ACTOR, at=at)


def _stored_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


class FeedbackStore:
    def __init__(self, database: Database, *, soft_failures_to_suppress: int = 3) -> None:
        self._db = database
        self._soft_limit = soft_failures_to_suppress

    def ingest(
        self,
        reports: list[DeliveryReport],
        at: datetime,
        engagements: Sequence[EngagementReport] = (),
    ) -> IngestReport:
        result = IngestReport(received=len(reports) + len(engagements))
        with self._db.session() as session:
            for engagement in engagements:
                if self._keep_engagement(session, engagement, at):
                    result.engagements += 1
                else:
                    result.duplicates += 1
            for report in reports:
                if report.outcome is None:
                    result.ignored += 1
                    continue
                if not self._keep(session, report, at):
                    result.duplicates += 1
                    continue
                if self._match(session, report, at):
                    result.matched += 1
                else:
                    result.unmatched += 1
                result.suppressed += self._maybe_suppress(session, report, at)
        return result

    def _keep(self, session: Session, report: DeliveryReport, at: datetime) -> bool:
        """Store the report once; False if it was already there (a redelivery)."""
        try:
            with session.begin_nested():
                session.add(
                    DeliveryEvent(
                        dedupe_key=report.dedupe_key,
                        message_id=report.message_id,
                        recipient=report.recipient,
                        status=report.status,
                        received_at=at,
                        matched=False,
                        payload={
                            "event_id": report.event_id,
                            "outcome": report.outcome.value if report.outcome else None,
                            "detail": report.detail,
                            "attempted_at": report.attempted_at.isoformat()
                            if report.attempted_at
                            else None,
                        },
                    )
                )
        except IntegrityError:
            return False
        return True

    def _keep_engagement(self, session: Session, report: EngagementReport, at: datetime) -> bool:
        """Store an open or click once; False if it was already there (a redelivery)."""
        try:
            with session.begin_nested():
                session.add(
                    EngagementEvent(
                        dedupe_key=report.dedupe_key,
                        message_id=report.message_id,
                        recipient=report.recipient,
                        engagement=report.engagement,
                        context=report.context[:2000],
                        user_agent=report.user_agent[:1000],
                        occurred_at=min(report.occurred_at or at, at),
                        received_at=at,
                    )
                )
        except IntegrityError:
            return False
        return True

    def _match(self, session: Session, report: DeliveryReport, at: datetime) -> bool:
        assert report.outcome is not None
        matched = apply_report(
            session,
            message_id=report.message_id,
            address=report.recipient,
            outcome=report.outcome.value,
            detail=f"{report.status}: {report.detail}" if report.detail else report.status,
            # ACS's time, never later than now: a skewed clock cannot put it in the future.
            reported_at=min(report.attempted_at or at, at),
            at=at,
        )
        if matched:
            session.execute(
                update(DeliveryEvent)
                .where(DeliveryEvent.dedupe_key == report.dedupe_key)
                .values(matched=True)
                .execution_options(synchronize_session=False)
            )
        return matched

    def _maybe_suppress(self, session: Session, report: DeliveryReport, at: datetime) -> int:
        assert report.outcome is not None
        source = f"delivery report {report.message_id}"
        reason = SUPPRESSING.get(report.outcome)
        if reason is not None:
            return int(_suppress(session, report.recipient, reason, source, at))
        if report.outcome is Outcome.SOFT_FAILURE:
            soft = session.scalar(
                select(func.count())
                .select_from(DeliveryEvent)
                .where(
                    DeliveryEvent.recipient == report.recipient,
                    DeliveryEvent.payload["outcome"].as_string() == Outcome.SOFT_FAILURE.value,
                )
            )
            if (soft or 0) >= self._soft_limit:
                return int(_suppress(session, report.recipient, "soft_bounce", source, at))
        return 0

    def match_pending(self, at: datetime, limit: int = 5000) -> int:
        """Retry reports that arrived before their ledger row knew its message id."""
        with self._db.session() as session:
            pending = session.scalars(
                select(DeliveryEvent).where(DeliveryEvent.matched.is_(False)).limit(limit)
            ).all()
            matched = 0
            for event in pending:
                outcome = event.payload.get("outcome")
                if outcome is None:
                    continue
                report = DeliveryReport(
                    event_id=str(event.payload.get("event_id", "")),
                    message_id=event.message_id,
                    recipient=event.recipient,
                    status=event.status,
                    outcome=Outcome(outcome),
                    detail=str(event.payload.get("detail", "")),
                    attempted_at=_stored_time(event.payload.get("attempted_at")),
                )
                matched += self._match(session, report, at)
            return matched
