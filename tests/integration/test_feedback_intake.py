"""Delivery reports into the store, on SQLite and PostgreSQL: once, matched, suppressing,
and judged by the health gates."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from harness.pipeline_world import DOMAIN, world
from warmup.campaigns.report import campaign_report
from warmup.control.health import Level, Outcome
from warmup.control.machine import Decision
from warmup.control.state import Status
from warmup.domains.actions import OpsRequest, act
from warmup.domains.store import DomainStore
from warmup.emulator import events as emulated
from warmup.emulator.config import EventSchema
from warmup.feedback import domain_health
from warmup.feedback.domain_health import judge_domain, window_counts
from warmup.feedback.intake import ENGAGEMENT_POINTS, FeedbackStore
from warmup.feedback.reports import DeliveryReport, make_report, parse_engagement, parse_report
from warmup.sending.mime import internet_message_id, smtp_message_key
from warmup.store.models import AuditEntry, LedgerRow, Recipient, Suppression

pytestmark = pytest.mark.integration

GATED = """
name: gated
quota: {per_minute: 1000000, per_hour: 10000000, headroom: 1.0}
gates:
  window_hours: 24
  min_sample: 100
  failure_rate: {hold: 1%, pause: 2%}
  hard_bounce_rate: {hold: 1%, pause: 2%}
steps:
  - {per_minute: 1000000, per_hour: 10000000, per_day: 100000000}
"""


def reports_from(emulator_operations: dict, schema: EventSchema) -> list[DeliveryReport]:  # type: ignore[type-arg]
    reports = []
    for operation in emulator_operations.values():
        for address, outcome in operation.outcomes.items():
            data = emulated.delivery_data(
                sender=operation.request.sender,
                recipient=address,
                message_id=operation.message_id,
                status=outcome.status.value,
                details=outcome.details,
                mail_server=outcome.mail_server,
                attempted_at=datetime.now(UTC),
                lowercase=len(reports) % 2 == 0,
            )
            reports.append(parse_report(emulated.envelope(schema, data)))
    return reports


def test_reports_are_kept_once_matched_and_bounces_suppressed(
    database_url: str, tmp_path: Path
) -> None:
    with world(
        database_url, tmp_path, recipients=200, bounce_rate=0.04, seed=3, plan_yaml=GATED
    ) as w:
        w.run_until_done()
        reports = reports_from(w.emulator.emulator.operations, EventSchema.CLOUD_EVENTS)
        bounced = {r.recipient for r in reports if r.status == "Bounced"}
        assert bounced
        store = FeedbackStore(w.database)
        now = datetime.now(UTC)
        first = store.ingest(reports, now)
        assert (first.received, first.matched, first.duplicates) == (200, 200, 0)
        assert first.suppressed == len(bounced)
        again = store.ingest(reports, now)  # Event Grid delivers at least once
        assert (again.duplicates, again.matched) == (200, 0)
        with w.database.session() as session:
            outcomes = dict(
                session.execute(
                    select(LedgerRow.outcome, func.count()).group_by(LedgerRow.outcome)
                ).all()
            )
            suppressed = set(session.scalars(select(Suppression.address)))
            audited = session.execute(
                select(AuditEntry.subject, AuditEntry.actor, AuditEntry.reason).where(
                    AuditEntry.subject_type == "suppression"
                )
            ).all()
        # Each suppression from a report is in the audit log, once (not again for the repeat).
        assert {subject for subject, _, _ in audited} == bounced
        assert len(audited) == len(bounced)
        assert {actor for _, actor, _ in audited} == {"delivery-feedback"}
        assert all(reason.startswith("hard_bounce (delivery report ") for _, _, reason in audited)
        assert outcomes == {"delivered": 200 - len(bounced), "hard_bounce": len(bounced)}
        assert suppressed == bounced

        record = w.domains.get(DOMAIN)
        counts = window_counts(w.database, record, datetime.now(UTC))
        assert (counts.total, counts.hard_bounce) == (200, len(bounced))
        verdict, decision = judge_domain(
            w.database, DomainStore(w.database), DOMAIN, datetime.now(UTC)
        )
        assert w.domains.get(DOMAIN).state.status is Status.PAUSED
        assert decision.transitions[0].actor == "health-gate"
        rate = len(bounced) / 200 * 100
        assert verdict.reason.startswith(f"failure rate {rate:g} % (95 %: ")
        assert "over 200 reports ≥ pause 2 %" in verdict.reason


def test_a_resume_while_a_judgement_is_in_flight_is_not_undone_by_it(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feedback loop reads the window, ops resume, then the loop applies its verdict: the
    verdict was read on the reports the resume set aside, so it must not pause the domain again
    (seen in CI: the dashboard's resume was undone within a second)."""
    with world(
        database_url, tmp_path, recipients=200, bounce_rate=0.04, seed=3, plan_yaml=GATED
    ) as w:
        w.run_until_done()
        FeedbackStore(w.database).ingest(
            reports_from(w.emulator.emulator.operations, EventSchema.CLOUD_EVENTS),
            datetime.now(UTC),
        )
        judge_domain(w.database, DomainStore(w.database), DOMAIN, datetime.now(UTC))
        assert w.domains.get(DOMAIN).state.status is Status.PAUSED

        read_window = domain_health.read_reports
        resumed: list[Decision] = []

        def read_then_resume(*args: Any) -> Any:
            counts = read_window(*args)
            if not resumed:  # ops click resume just after the loop has read the window
                request = OpsRequest(actor="token:ana", reason="list cleaned", at=datetime.now(UTC))
                resumed.append(act(w.domains, DOMAIN, "resume", request))
            return counts

        monkeypatch.setattr(domain_health, "read_reports", read_then_resume)
        verdict, decision = judge_domain(
            w.database, DomainStore(w.database), DOMAIN, datetime.now(UTC)
        )
        resumed_to = resumed[0].state.status  # the plan's one step: completed
        assert resumed_to is not Status.PAUSED
        assert w.domains.get(DOMAIN).state.status is resumed_to
        assert decision.transitions == ()
        # Judged again on the window that starts at the resume: nothing in it yet.
        assert verdict.level is Level.UNKNOWN, verdict.reason


def test_a_report_before_its_message_id_is_matched_later(database_url: str, tmp_path: Path) -> None:
    with world(database_url, tmp_path, recipients=5) as w:
        batches = w.runtime.dispatch()
        store = FeedbackStore(w.database)
        early = DeliveryReport(
            "e1", "m-early", "r0@example.org", "Delivered", Outcome.DELIVERED, "ok", None
        )
        assert store.ingest([early], datetime.now(UTC)).unmatched == 1
        for batch in batches:
            w.runtime.run_batch(batch.to_message())
        with w.database.session() as session:  # the send was accepted under message id m-early
            session.execute(
                LedgerRow.__table__.update()
                .where(LedgerRow.address == "r0@example.org")
                .values(message_id="m-early")
            )
        assert store.match_pending(datetime.now(UTC)) == 1
        with w.database.session() as session:
            assert (
                session.scalar(
                    select(LedgerRow.outcome).where(LedgerRow.address == "r0@example.org")
                )
                == "delivered"
            )


def test_an_open_before_its_send_is_recorded_reaches_its_recipient_once_it_is(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=2) as w:
        batches = w.runtime.dispatch()
        store = FeedbackStore(w.database)
        opened = parse_engagement(
            emulated.envelope(
                EventSchema.EVENT_GRID,
                emulated.engagement_data(
                    sender="news@mail.example.com", recipient="r0@example.org",
                    message_id="m-later", kind="click", context="https://x.example/a",
                    at=datetime.now(UTC),
                ),
                event_type=emulated.ENGAGEMENT_REPORT,
            )
        )  # fmt: skip

        def points() -> dict[str, float | None]:
            with w.database.session() as session:
                return dict(session.execute(select(Recipient.address, Recipient.engagement)).all())

        assert store.ingest([], datetime.now(UTC), [opened]).engagements == 1
        assert points()["r0@example.org"] is None  # kept, but no row shows message m-later yet
        for batch in batches:
            w.runtime.run_batch(batch.to_message())
        with w.database.session() as session:  # the send was accepted under message id m-later
            session.execute(
                LedgerRow.__table__.update()
                .where(LedgerRow.address == "r0@example.org")
                .values(message_id="m-later")
            )
        w.runtime.feedback()  # the feedback tick credits what waited
        assert points() == {"r0@example.org": ENGAGEMENT_POINTS["click"], "r1@example.org": None}
        assert store.credit_waiting(datetime.now(UTC)) == 0  # credited once
        assert store.ingest([], datetime.now(UTC), [opened]).duplicates == 1  # and kept once
        w.runtime.feedback()
        assert points()["r0@example.org"] == ENGAGEMENT_POINTS["click"]
        clicks = campaign_report(
            w.database, DomainStore(w.database), "c", today=datetime.now(UTC).date(), message_kb=5
        )
        assert clicks.clicked == 1


def test_report_time_is_acs_time_so_a_backfill_leaves_today_alone(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=40) as w:
        w.run_until_done()
        now = datetime.now(UTC)
        with w.database.session() as session:
            sent = list(session.execute(select(LedgerRow.message_id, LedgerRow.address)))
        last_month = now - timedelta(days=30)
        with w.database.session() as session:  # these messages went out a month ago
            session.execute(update(LedgerRow).values(accepted_at=last_month - timedelta(hours=1)))
        # A month-old export where every second message bounced: imported today.
        reports = [
            make_report(
                event_id=f"la:{message_id}",
                message_id=str(message_id),
                recipient=address,
                status="Bounced" if i % 2 else "Delivered",
                detail="550 5.1.1 no such user" if i % 2 else "",
                attempted_at=last_month,
            )
            for i, (message_id, address) in enumerate(sent)
        ]
        FeedbackStore(w.database).ingest(reports, now)
        record = w.domains.get(DOMAIN)
        assert window_counts(w.database, record, now).total == 0  # today's window is untouched
        then = window_counts(w.database, record, last_month + timedelta(minutes=1))
        assert then.hard_bounce == 20
        with w.database.session() as session:
            times = set(session.scalars(select(LedgerRow.outcome_at)))
        assert times == {last_month}


def test_a_bounce_after_a_delivery_applies_and_not_the_other_way(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=2) as w:
        w.run_until_done()
        now = datetime.now(UTC)
        with w.database.session() as session:
            (m1, a1), (m2, a2) = session.execute(
                select(LedgerRow.message_id, LedgerRow.address).order_by(LedgerRow.id)
            ).all()

        def say(message_id: str, address: str, status: str) -> None:
            detail = "550 5.1.1 gone" if status == "Bounced" else ""
            FeedbackStore(w.database).ingest(
                [
                    make_report(
                        event_id=status,
                        message_id=message_id,
                        recipient=address,
                        status=status,
                        detail=detail,
                        attempted_at=now,
                    )
                ],
                now,
            )

        say(m1, a1, "Delivered")
        say(m1, a1, "Bounced")  # a late bounce after the delivery: it applies
        say(m2, a2, "Bounced")
        say(m2, a2, "Delivered")  # a late delivery does not undo the bounce
        with w.database.session() as session:
            outcomes = dict(session.execute(select(LedgerRow.address, LedgerRow.outcome)).all())
    assert outcomes == {a1: "hard_bounce", a2: "hard_bounce"}


def test_a_batch_of_suppressions_ends_as_one_at_a_time_would(database_url: str) -> None:
    """A webhook batch's suppressions are read in one statement; the outcome, entries and
    audit alike, is what suppressing one report after the other gives: repeats within the
    batch, an entry in force upgraded, an expired one replaced."""
    from warmup.store.database import Database
    from warmup.suppression.store import Suppress, suppress_all_in, suppress_in

    database = Database.connect(database_url, migrate=True)
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)

    def scenario(prefix: str) -> list[Suppress]:
        with database.session() as session:
            for name, expires in (("temporary", now + timedelta(days=1)), ("expired", now)):
                suppress_in(
                    session, f"{prefix}{name}@example.org", reason="soft_bounce",
                    source="before", actor="ops", at=now - timedelta(days=2), expires_at=expires,
                )  # fmt: skip
        return [
            Suppress(f"{prefix}temporary@example.org", "hard_bounce", "report 1"),
            Suppress(f"{prefix}expired@example.org", "complaint", "report 2"),
            Suppress(f"{prefix}new@example.org", "hard_bounce", "report 3"),
            Suppress(f"{prefix}new@example.org", "soft_bounce", "report 4"),
            Suppress(f"{prefix}new@example.org", "complaint", "report 5"),
        ]

    with database.session() as session:
        together = suppress_all_in(session, scenario("one-"), actor="feedback", at=now)
    with database.session() as session:
        one_by_one = sum(
            suppress_in(
                session, w.address, reason=w.reason, source=w.source, actor="feedback", at=now
            )
            for w in scenario("two-")
        )
    assert together == one_by_one == 2  # the expired entry and the new address

    def kept(prefix: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        with database.session() as session:
            entries = session.execute(
                select(Suppression.address, Suppression.reason, Suppression.source,
                       Suppression.expires_at, Suppression.note)
                .where(Suppression.address.startswith(prefix)).order_by(Suppression.address)
            ).all()  # fmt: skip
            audit = session.execute(
                select(AuditEntry.subject, AuditEntry.reason)
                .where(AuditEntry.subject.startswith(prefix)).order_by(AuditEntry.id)
            ).all()  # fmt: skip
        strip = len(prefix)
        return (
            [(row[0][strip:], *row[1:]) for row in entries],
            [(row[0][strip:], row[1]) for row in audit],
        )

    assert kept("one-") == kept("two-")
    entries, audit = kept("one-")
    assert ("new@example.org", "complaint", "report 5", None, "") in entries
    assert ("temporary@example.org", "hard_bounce", "report 1", None, "") in entries
    assert len(audit) == 2 + 5 - 1  # two set up, then every change but the weaker repeat
    database.dispose()


def test_an_open_of_a_message_sent_over_smtp_finds_its_row_through_its_delivery_report(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=2) as w:
        for batch in w.runtime.dispatch():
            w.runtime.run_batch(batch.to_message())
        # As if sent over SMTP: the row knows the Message-ID we gave it, not ACS's id.
        with w.database.session() as session:
            session.execute(
                LedgerRow.__table__.update()
                .where(LedgerRow.address == "r0@example.org")
                .values(message_id=smtp_message_key("op-1"))
            )
        store = FeedbackStore(w.database)
        sent = {"sender": "news@mail.example.com", "recipient": "r0@example.org"}
        delivered = emulated.delivery_data(
            **sent, message_id="acs-7", status="Delivered", details="ok", mail_server="mx",
            attempted_at=datetime.now(UTC),
            internet_message_id=internet_message_id("op-1", "news@mail.example.com"),
        )  # fmt: skip
        opened = emulated.engagement_data(
            **sent, message_id="acs-7", kind="view", context="", at=datetime.now(UTC)
        )
        report = parse_report(emulated.envelope(EventSchema.EVENT_GRID, delivered))
        assert (report.message_id, report.acs_message_id) == (smtp_message_key("op-1"), "acs-7")
        assert store.ingest([report], datetime.now(UTC)).unmatched == 0
        engagement = parse_engagement(
            emulated.envelope(EventSchema.EVENT_GRID, opened, event_type=emulated.ENGAGEMENT_REPORT)
        )
        store.ingest([], datetime.now(UTC), [engagement])
        with w.database.session() as session:
            points = dict(session.execute(select(Recipient.address, Recipient.engagement)).all())
        assert points["r0@example.org"] == ENGAGEMENT_POINTS["view"]
        assert points["r1@example.org"] is None
        assert (
            campaign_report(
                w.database,
                DomainStore(w.database),
                "c",
                today=datetime.now(UTC).date(),
                message_kb=5,
            ).opened
            == 1
        )
