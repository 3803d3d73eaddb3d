"""Delivery reports into the store: de-duplicated, matched to the ledger, suppressions written.

This module alone writes ``delivery_events``; the ledger and the suppression list are written by
their owners, in this intake's transaction.

Every report is kept once (its content key: message id + recipient + status), whatever its
event id and however often Event Grid delivers it. A report whose ledger row does not yet show
its message id (it can arrive before the worker recorded the send) stays unmatched and is
matched on a later pass; an open or a click likewise is kept at once, and its points reach the
recipient once the row shows its message. Hard bounces and complaints suppress the address at
once; soft failures only after ``soft_failures_to_suppress`` of them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from warmup.control.health import Outcome
from warmup.feedback.reports import DeliveryReport, EngagementReport
from warmup.ledger.outcomes import ReportedOutcome, apply_reports, known_rows
from warmup.lists.importer import Engaged, add_engagement
from warmup.store.database import Database, dialect_insert
from warmup.store.models import DeliveryEvent, EngagementEvent
from warmup.suppression.store import Suppress, suppress_all_in

MATCH_CHUNK = 500  # reports per UPDATE that marks them matched on a later pass
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
    # Events the store refused (a value it cannot keep): each is left out alone, its batch is
    # kept, and the count is logged and shown in /metrics.
    unstorable: int = 0

    def add(self, other: IngestReport) -> None:
        """Count another batch's figures in (a file or a pull is ingested in batches)."""
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


FEEDBACK_ACTOR = "delivery-feedback"
log = logging.getLogger(__name__)


def _stored_time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


# What an open or a click adds to the recipient's engagement on its list. Opens are a weak
# signal (mailbox privacy features fetch images for every message): a click weighs three.
ENGAGEMENT_POINTS = {"view": 1.0, "click": 3.0}
# How long an open or click whose send is not recorded yet waits to be credited: a send's
# result reaches the ledger within seconds, so past this its message is none of ours.
ENGAGEMENT_WAIT = timedelta(days=7)


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
        """Store a batch: one insert for its reports and one for its engagement events (each
        skipping what is already known), then each new report applied to its ledger row."""
        result = IngestReport(received=len(reports) + len(engagements))
        with self._db.session() as session:
            result.engagements = self._keep_engagements(session, engagements, at, result)
            result.duplicates += len(engagements) - result.engagements - result.unstorable
            with_outcome = [r for r in reports if r.outcome is not None]
            result.ignored = len(reports) - len(with_outcome)
            # Rows first, so each report is stored already marked matched or not.
            known = known_rows(session, [r.message_id for r in with_outcome])
            refused_before = result.unstorable
            fresh = self._keep(session, with_outcome, at, known, result)
            refused = result.unstorable - refused_before
            result.duplicates += len(with_outcome) - len(fresh) - refused
            result.matched = self._apply(session, fresh, at, known)
            result.unmatched = len(fresh) - result.matched
            # In the intake's transaction: the reports, their suppressions and the audit
            # entries together.
            wanted = [found for r in fresh if (found := self._suppression(session, r))]
            result.suppressed = suppress_all_in(session, wanted, actor=FEEDBACK_ACTOR, at=at)
        return result

    def _keep(
        self,
        session: Session,
        reports: Sequence[DeliveryReport],
        at: datetime,
        known: set[tuple[str, str]],
        result: IngestReport,
    ) -> list[DeliveryReport]:
        """Store each report once; return those that were new (not redeliveries)."""
        unique = {report.dedupe_key: report for report in reversed(reports)}  # first one wins
        rows = [
            {
                "dedupe_key": report.dedupe_key,
                "message_id": report.message_id,
                "recipient": report.recipient,
                "status": report.status,
                "received_at": at,
                "matched": (report.message_id, report.recipient) in known,
                "acs_message_id": report.acs_message_id,
                "payload": {
                    "event_id": report.event_id,
                    "outcome": report.outcome.value if report.outcome else None,
                    "detail": report.detail,
                    "attempted_at": report.attempted_at.isoformat()
                    if report.attempted_at
                    else None,
                },
            }
            for report in unique.values()
        ]
        stored = set(self._insert_new(session, DeliveryEvent, rows, result))
        return [report for key, report in unique.items() if key in stored]

    def _keep_engagements(
        self,
        session: Session,
        reports: Sequence[EngagementReport],
        at: datetime,
        result: IngestReport,
    ) -> int:
        """Store each open or click once, crediting at once the ones whose send the ledger
        knows; return how many were new. Each is known by what ACS said of it (over SMTP,
        ACS's id of the message), whenever it comes, so that a redelivery is a duplicate."""
        unique = {report.dedupe_key: report for report in reports}
        named, ready = self._ready(session, unique)
        rows = [
            {
                "dedupe_key": key,
                "message_id": named[key].message_id,
                "recipient": report.recipient,
                "engagement": report.engagement,
                "context": report.context[:2000],
                "user_agent": report.user_agent[:1000],
                "occurred_at": min(report.occurred_at or at, at),
                "received_at": at,
                "credited_at": at if key in ready else None,
            }
            for key, report in unique.items()
        ]
        kept = set(self._insert_new(session, EngagementEvent, rows, result))
        _add_points(session, [named[key] for key in kept & ready], at)
        return len(kept)

    def _ready(
        self, session: Session, waiting: Mapping[str, EngagementReport]
    ) -> tuple[dict[str, EngagementReport], set[str]]:
        """The events (by dedupe key) named as their ledger rows name their messages, and the
        keys of those whose send the ledger has recorded. The others wait: an open can come
        before its send's result reaches the ledger."""
        named = dict(zip(waiting, self._by_row_key(session, list(waiting.values())), strict=True))
        known = known_rows(session, [report.message_id for report in named.values()])
        ready = {key for key, r in named.items() if (r.message_id, r.recipient) in known}
        return named, ready

    def credit_waiting(self, at: datetime, limit: int = 5000) -> int:
        """Credit the opens and clicks of the last week that came before their send was
        recorded (each feedback tick); how many were credited."""
        query = (
            select(EngagementEvent)
            .where(
                EngagementEvent.credited_at.is_(None),
                EngagementEvent.received_at >= at - ENGAGEMENT_WAIT,
            )
            .order_by(EngagementEvent.received_at)
            .limit(limit)
        )
        with self._db.session() as session:
            events = list(session.scalars(query))
            ids = {event.dedupe_key: event.id for event in events}
            waiting = {
                event.dedupe_key: EngagementReport(
                    message_id=event.message_id,
                    recipient=event.recipient,
                    engagement=event.engagement,
                    context=event.context,
                    user_agent=event.user_agent,
                    occurred_at=event.occurred_at,
                )
                for event in events
            }
            if not waiting:
                return 0
            named, ready = self._ready(session, waiting)
            if not ready:
                return 0
            _add_points(session, [named[key] for key in ready], at)
            session.execute(  # by primary key, one statement for all
                update(EngagementEvent),
                [
                    {"id": ids[key], "credited_at": at, "message_id": named[key].message_id}
                    for key in ready
                ],
            )
            return len(ready)

    @staticmethod
    def _by_row_key(
        session: Session, reports: Sequence[EngagementReport]
    ) -> list[EngagementReport]:
        """The reports, each naming its message as the ledger row does: an open of a message
        sent over SMTP names ACS's id, which its delivery report tied to the row's key."""
        named = {report.message_id for report in reports}
        if not named:
            return list(reports)
        query = select(DeliveryEvent.acs_message_id, DeliveryEvent.message_id).where(
            DeliveryEvent.acs_message_id.in_(named)
        )
        keys: dict[str | None, str] = {acs_id: key for acs_id, key in session.execute(query)}
        return [
            replace(report, message_id=keys[report.message_id])
            if report.message_id in keys
            else report
            for report in reports
        ]

    @staticmethod
    def _insert_new(
        session: Session,
        table: type[DeliveryEvent] | type[EngagementEvent],
        rows: list[Any],
        result: IngestReport,
    ) -> list[str]:
        """Insert what is not there yet; return the new keys. One statement compiled once and
        run for all rows (SQLAlchemy's "insertmanyvalues" batches them with RETURNING).

        Should the store refuse a value the parsing let through, the rows are inserted one by
        one, each in a savepoint, and only the ones it refuses are left out (counted in
        ``result.unstorable``): one bad event never costs its batch, which Event Grid would not
        send again after a 400."""
        if not rows:
            return []
        statement = (
            dialect_insert(session)(table)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(table.dedupe_key)
        )
        try:
            with session.begin_nested():
                return list(session.connection().execute(statement, rows).scalars())
        except DataError:
            pass
        kept: list[str] = []
        for row in rows:
            try:
                with session.begin_nested():
                    kept += session.connection().execute(statement, [row]).scalars()
            except DataError as exc:
                result.unstorable += 1
                log.warning("feedback: an event the store cannot keep was left out: %s", exc.orig)
        return kept

    def _mark_matched(self, session: Session, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), MATCH_CHUNK):
            session.execute(
                update(DeliveryEvent)
                .where(DeliveryEvent.dedupe_key.in_(keys[start : start + MATCH_CHUNK]))
                .values(matched=True)
                .execution_options(synchronize_session=False)
            )

    def _apply(
        self,
        session: Session,
        reports: Sequence[DeliveryReport],
        at: datetime,
        known: set[tuple[str, str]] | None = None,
    ) -> int:
        """The reports' outcomes on their ledger rows; how many found a row (the others arrived
        before their row knew its message id: matched on a later pass). Reports stored before
        their row was known (``known`` None) are marked matched here."""
        found = apply_reports(
            session,
            [
                ReportedOutcome(
                    message_id=report.message_id,
                    address=report.recipient,
                    outcome=report.outcome.value,
                    detail=f"{report.status}: {report.detail}" if report.detail else report.status,
                    # ACS's time, never later than now: a skewed clock cannot put it ahead.
                    reported_at=min(report.attempted_at or at, at),
                )
                for report in reports
                if report.outcome is not None
            ],
            at,
            known,
        )
        matched = [r.dedupe_key for r in reports if (r.message_id, r.recipient) in found]
        if known is None:
            self._mark_matched(session, matched)
        return len(matched)

    def _suppression(self, session: Session, report: DeliveryReport) -> Suppress | None:
        """What ``report`` suppresses: a hard bounce or a complaint at once, soft failures
        from the ``soft_failures_to_suppress``-th on. Permanent (no expiry): a hard bounce or
        complaint upgrades a temporary entry."""
        assert report.outcome is not None
        source = f"delivery report {report.message_id}"
        reason = SUPPRESSING.get(report.outcome)
        if reason is not None:
            return Suppress(report.recipient, reason, source)
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
                return Suppress(report.recipient, "soft_bounce", source)
        return None

    def match_pending(self, at: datetime, limit: int = 5000) -> int:
        """Retry reports that arrived before their ledger row knew its message id."""
        with self._db.session() as session:
            pending = session.scalars(
                select(DeliveryEvent).where(DeliveryEvent.matched.is_(False)).limit(limit)
            ).all()
            reports = [
                DeliveryReport(
                    event_id=str(event.payload.get("event_id", "")),
                    message_id=event.message_id,
                    recipient=event.recipient,
                    status=event.status,
                    outcome=Outcome(event.payload["outcome"]),
                    detail=str(event.payload.get("detail", "")),
                    attempted_at=_stored_time(event.payload.get("attempted_at")),
                )
                for event in pending
                if event.payload.get("outcome") is not None
            ]
            return self._apply(session, reports, at)


def _add_points(session: Session, reports: Sequence[EngagementReport], at: datetime) -> None:
    """Each open's or click's points to its recipient, on the list its campaign sent to."""
    add_engagement(
        session.connection(),
        [
            Engaged(
                report.message_id,
                report.recipient,
                ENGAGEMENT_POINTS[report.engagement],
                min(report.occurred_at or at, at),
            )
            for report in reports
        ],
    )
