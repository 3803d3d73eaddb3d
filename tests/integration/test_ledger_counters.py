"""The ledger's counters (issue 19): kept by triggers, whoever writes the ledger, exact against
it at any moment, on SQLite and PostgreSQL, and under concurrent writers on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, func, select, text, update

from harness.pipeline_world import DOMAIN, seed_campaign
from tests.cli import cli
from warmup.domains.store import DomainStore
from warmup.feedback.domain_health import window_counts
from warmup.feedback.readiness import readiness
from warmup.ledger import counters
from warmup.ledger.states import LedgerState
from warmup.ledger.store import LedgerStore
from warmup.store.database import Database
from warmup.store.models import Campaign, LedgerCount, LedgerCountDelta, LedgerRow

NOW = datetime(2026, 11, 29, 10, 7, tzinfo=UTC)


def campaign_id(database: Database) -> int:
    with database.session() as session:
        found = session.scalar(select(Campaign.id).where(Campaign.name == "c"))
    assert found is not None
    return found


def accept_and_report(
    connection: Connection, rank: int, accepted_at: datetime, outcome: str, reported: datetime
) -> None:
    """The row of this rank accepted by ACS then, and its delivery report in."""
    connection.execute(
        update(LedgerRow)
        .where(LedgerRow.rank == rank)
        .values(state="accepted", accepted_at=accepted_at, outcome=outcome, outcome_at=reported)
    )


def by_state(database: Database) -> dict[str, int]:
    with database.session() as session:
        totals: dict[str, int] = {}
        for count in counters.counts(session, [campaign_id(database)]):
            totals[count.state] = totals.get(count.state, 0) + count.rows
        return totals


def test_counters_follow_every_kind_of_write(database: Database, tmp_path: Path) -> None:
    seed_campaign(database, tmp_path, recipients=40, now=NOW)
    assert by_state(database) == {"pending": 40}
    assert counters.mismatches(database) == []
    accepted_at = NOW.replace(minute=14, second=59)
    with database.engine.begin() as connection:
        # Accepted in two quarter hours, some with outcomes, attempts counted.
        connection.execute(
            update(LedgerRow)
            .where(LedgerRow.rank <= 10)
            .values(state="accepted", accepted_at=accepted_at, attempts=2)
        )
        connection.execute(
            update(LedgerRow)
            .where(LedgerRow.rank.between(11, 15))
            .values(state="accepted", accepted_at=accepted_at + timedelta(seconds=1), attempts=1)
        )
        connection.execute(update(LedgerRow).where(LedgerRow.rank <= 3).values(outcome="delivered"))
        # A lease moving changes no counter; a delete takes its rows out.
        connection.execute(
            update(LedgerRow).where(LedgerRow.rank > 30).values(lease_owner="someone")
        )
        connection.execute(delete(LedgerRow).where(LedgerRow.rank == 40))
    assert by_state(database) == {"pending": 24, "accepted": 15}
    with database.session() as session:
        rows = counters.counts(session, [campaign_id(database)])
        delivered = [c for c in rows if c.outcome == "delivered"]
        assert [(c.state, c.rows, c.attempts) for c in delivered] == [("accepted", 3, 6)]
        domain = session.scalar(select(Campaign.domain_id))
        assert domain is not None
        quarter = NOW.replace(minute=0)
        assert counters.accepted(session, domain, quarter) == 15
        assert counters.accepted(session, domain, quarter, quarter + timedelta(minutes=15)) == 10
        assert counters.accepted(session, domain, quarter + timedelta(minutes=15)) == 5
        with pytest.raises(ValueError, match="quarter hours"):
            counters.accepted(session, domain, NOW)
    assert counters.mismatches(database) == []


def test_a_domain_load_is_what_the_ledger_holds(database: Database, tmp_path: Path) -> None:
    """The dispatcher's one read per domain: sent today, in flight, left per running campaign."""
    seed_campaign(database, tmp_path, recipients=30, now=NOW)
    accepted_at = NOW.replace(minute=20)
    with database.engine.begin() as connection:
        connection.execute(
            update(LedgerRow)
            .where(LedgerRow.rank <= 6)
            .values(state="accepted", accepted_at=accepted_at, attempts=1)
        )
        for state, ranks in (("claimed", (7, 8)), ("sending", (9, 10)), ("verifying", (11, 12))):
            connection.execute(
                update(LedgerRow).where(LedgerRow.rank.between(*ranks)).values(state=state)
            )
        connection.execute(update(LedgerRow).where(LedgerRow.rank == 13).values(state="failed"))
    with database.session() as session:
        domain = session.scalar(select(Campaign.domain_id))
        priority = session.scalar(select(Campaign.priority))
        assert domain is not None
        assert priority is not None
        load = counters.domain_load(session, domain, NOW.replace(minute=15))
        # Two claimed rows (7, 8) among the six in flight: a tick claims less while they wait.
        assert load == counters.DomainLoad(
            6, 6, ((campaign_id(database), priority, 17),), claimed=2
        )
        # Since a moment within the quarter hour: from the ledger's index, as exact.
        assert counters.domain_load(session, domain, accepted_at).accepted == 6
        assert (
            counters.domain_load(session, domain, accepted_at + timedelta(seconds=1)).accepted == 0
        )
        assert counters.domain_load(session, domain, NOW.replace(minute=30)).accepted == 0
    with database.engine.begin() as connection:
        connection.execute(update(Campaign).values(status="paused"))
    with database.session() as session:
        # A paused campaign asks for nothing; what it has out still counts against the day.
        assert counters.domain_load(session, domain, NOW.replace(minute=15)) == counters.DomainLoad(
            6, 6, (), claimed=2
        )


def test_the_limiter_restore_reads_the_accepted_and_the_rows_in_doubt(
    database: Database, tmp_path: Path
) -> None:
    """Two index ranges (migration 0018) give exactly what one OR over the ledger gives."""
    seed_campaign(database, tmp_path, recipients=30, now=NOW)
    hour = timedelta(hours=1)
    changes = [
        ((1, 4), {"state": "accepted", "accepted_at": NOW - hour / 6}),
        ((5, 6), {"state": "accepted", "accepted_at": NOW - 2 * hour}),  # before the window
        ((7, 8), {"state": "sending", "updated_at": NOW - hour / 12}),
        ((9, 9), {"state": "verifying", "updated_at": NOW - 3 * hour}),  # before the window
        # Accepted once, in doubt again since: counted when it was accepted.
        ((10, 10), {"state": "verifying", "updated_at": NOW, "accepted_at": NOW - 2 * hour}),
        ((11, 11), {"state": "claimed", "updated_at": NOW}),  # not posted yet
    ]
    with database.engine.begin() as connection:
        for ranks, values in changes:
            connection.execute(
                update(LedgerRow).where(LedgerRow.rank.between(*ranks)).values(**values)
            )
    since = NOW - hour
    with database.session() as session:
        domain = session.scalar(select(Campaign.domain_id))
        assert domain is not None
        either = select(
            LedgerRow.provider, func.coalesce(LedgerRow.accepted_at, LedgerRow.updated_at)
        ).where(
            (LedgerRow.accepted_at >= since)
            | (LedgerRow.state.in_(["sending", "verifying"]) & (LedgerRow.updated_at >= since))
        )
        expected = sorted((str(p), at) for p, at in session.execute(either))
    posted = sorted(LedgerStore(database).posted_since(domain, since))
    assert posted == expected
    assert len(posted) == 7  # ranks 1-4, 7, 8 and 10


def test_a_counter_that_drifted_is_reported(database_url: str, tmp_path: Path) -> None:
    database = Database.connect(database_url, migrate=True)
    seed_campaign(database, tmp_path, recipients=5, now=NOW)
    with database.engine.begin() as connection:
        counters.fold(connection)
        connection.execute(update(LedgerCount).values(row_count=LedgerCount.row_count + 1))
    found = counters.mismatches(database)
    assert [str(m) for m in found] == [
        f"campaign {campaign_id(database)} pending rows: counters say 6, the ledger holds 5"
    ]
    database.dispose()
    result = cli(database_url, "db", "check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "counters say 6, the ledger holds 5" in result.stdout


def test_the_check_command_says_they_agree(database_url: str, tmp_path: Path) -> None:
    database = Database.connect(database_url, migrate=True)
    seed_campaign(database, tmp_path, recipients=7, now=NOW)
    database.dispose()
    result = cli(database_url, "db", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "counters agree with the ledger and the lists" in result.stdout


def test_concurrent_writers_and_folds_lose_nothing(postgres_url: str, tmp_path: Path) -> None:
    """Eight writers move rows between states while folds run: the deltas are append-only, so
    nobody waits on a counter row, and every move is counted once."""
    database = Database.connect(postgres_url, migrate=True)
    seed_campaign(database, tmp_path, recipients=800, now=NOW)
    errors: list[BaseException] = []

    def writer(part: int) -> None:
        try:
            for step in range(25):
                with database.engine.begin() as connection:
                    mine = LedgerRow.id % 8 == part
                    state = ("claimed", "sending", "accepted")[step % 3]
                    connection.execute(
                        update(LedgerRow)
                        .where(mine, LedgerRow.rank % 25 == step)
                        .values(state=state, attempts=LedgerRow.attempts + 1)
                    )
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    def folder(stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                with database.engine.begin() as connection:
                    counters.fold(connection)
        except BaseException as exc:
            errors.append(exc)

    stop = threading.Event()
    folding = [threading.Thread(target=folder, args=(stop,)) for _ in range(2)]
    writing = [threading.Thread(target=writer, args=(part,)) for part in range(8)]
    for thread in folding + writing:
        thread.start()
    for thread in writing:
        thread.join(timeout=60)
    stop.set()
    for thread in folding:
        thread.join(timeout=60)
    assert errors == []
    assert counters.mismatches(database) == []
    with database.engine.begin() as connection:
        counters.fold(connection)
        assert connection.scalar(select(func.count()).select_from(LedgerCountDelta)) == 0
        assert connection.scalar(text("select sum(row_count) from ledger_counts")) == 800
    assert counters.mismatches(database) == []
    assert sum(by_state(database).values()) == 800
    assert by_state(database).get(LedgerState.PENDING.value, 0) < 800
    database.dispose()


def test_the_outcome_window_is_exact_at_any_ends(database: Database, tmp_path: Path) -> None:
    """Whole quarter hours from the counters, the ragged ends from the ledger: the same
    figures as counting the ledger, for windows that start and end anywhere."""
    seed_campaign(database, tmp_path, recipients=60, now=NOW)
    start = NOW.replace(minute=0)
    outcomes = ("delivered", "hard_bounce", "complaint")
    with database.engine.begin() as connection:
        for rank in range(1, 61):
            reported = start + timedelta(minutes=rank * 1.5, seconds=rank % 7)
            accept_and_report(connection, rank, start, outcomes[rank % 3], reported)
    with database.session() as session:
        domain = session.scalar(select(Campaign.domain_id))
        assert domain is not None
        for since_minutes, until_minutes in [(0, 95), (7.3, 61), (14.9, 15.1), (15, 45), (44, 46)]:
            since = start + timedelta(minutes=since_minutes)
            until = start + timedelta(minutes=until_minutes)
            truth: dict[tuple[str, str], int] = {}
            for provider, outcome in session.execute(
                select(LedgerRow.provider, LedgerRow.outcome).where(
                    LedgerRow.outcome_at >= since, LedgerRow.outcome_at <= until
                )
            ):
                truth[(provider, outcome)] = truth.get((provider, outcome), 0) + 1
            assert counters.outcomes_between(session, domain, since, until) == truth
    assert counters.mismatches(database) == []


KATHMANDU = """
name: unbounded-kathmandu
timezone: Asia/Kathmandu
quota: {per_minute: 1000000, per_hour: 10000000, headroom: 1.0}
steps:
  - {per_minute: 1000000, per_hour: 10000000, per_day: 100000000}
"""


def test_the_ramp_history_from_counters_matches_the_ledger(
    database: Database, tmp_path: Path
) -> None:
    """Days in a time zone 5 h 45 min off UTC: still whole quarter hours of the counters."""
    from zoneinfo import ZoneInfo

    from warmup.domains.store import DomainStore
    from warmup.feedback.overview import history

    start = NOW - timedelta(days=3)
    seed_campaign(database, tmp_path, recipients=80, now=start, plan_yaml=KATHMANDU)
    with database.engine.begin() as connection:
        for rank in range(1, 81):
            sent = start + timedelta(hours=rank * 0.9, minutes=rank % 13)
            connection.execute(
                update(LedgerRow)
                .where(LedgerRow.rank == rank)
                .values(
                    state="accepted",
                    accepted_at=sent,
                    outcome=("delivered", "hard_bounce")[rank % 5 == 0],
                    outcome_at=sent + timedelta(minutes=50),
                )
            )
    zone = ZoneInfo("Asia/Kathmandu")
    record = DomainStore(database).get("mail.example.com")
    points = history(database, record, NOW)
    with database.session() as session:
        rows = session.execute(select(LedgerRow.accepted_at, LedgerRow.outcome_at)).all()
    sent_per_day: dict[object, int] = {}
    reports_per_day: dict[object, int] = {}
    for accepted_at, outcome_at in rows:
        day = accepted_at.astimezone(zone).date()
        sent_per_day[day] = sent_per_day.get(day, 0) + 1
        reported = outcome_at.astimezone(zone).date()
        reports_per_day[reported] = reports_per_day.get(reported, 0) + 1
    assert {p.day: p.sent for p in points if p.sent} == sent_per_day
    assert {p.day: p.reports for p in points if p.reports} == reports_per_day
    assert sum(p.sent for p in points) == 80


def test_readiness_and_a_campaigns_window_are_what_the_ledger_holds(
    database: Database, tmp_path: Path
) -> None:
    """A domain's readiness (sends per day, failure rates over 7 and 30 days) and one
    campaign's health window, asked of the ledger's owner, against a plain count of the rows."""
    start = NOW - timedelta(days=70)
    seed_campaign(database, tmp_path, recipients=60, now=start)
    with database.engine.begin() as connection:
        for rank in range(1, 61):
            # Every 7 hours back over 11 days, then a few sent 40 days ago and more.
            sent = NOW - (timedelta(hours=7 * rank) if rank < 40 else timedelta(days=rank))
            outcome = ("delivered", "hard_bounce", "complaint", "unknown")[rank % 4]
            accept_and_report(connection, rank, sent, outcome, sent + timedelta(minutes=3))
    ready = readiness(database, DomainStore(database).get(DOMAIN), NOW)
    with database.session() as session:
        accepted = [a for (a,) in session.execute(select(LedgerRow.accepted_at))]
        reported = list(session.execute(select(LedgerRow.outcome, LedgerRow.outcome_at)))
    since = NOW - timedelta(days=30)
    expected_days = {
        day: sum(1 for a in accepted if a >= since and a.date() == day) for day, _ in ready.days
    }
    assert dict(ready.days) == expected_days
    assert sum(expected_days.values()) > 0
    for window, days in ((ready.last_7, 7), (ready.last_30, 30)):
        counted = [o for o, at in reported if at >= NOW - timedelta(days=days) and o != "unknown"]
        assert window.reports == len(counted)
        assert window.failures == sum(1 for o in counted if o != "delivered")
    record = DomainStore(database).get(DOMAIN)
    in_window = window_counts(database, record, NOW, campaign_id(database))
    hours = record.plan.gates.window_hours
    recent = [o for o, at in reported if NOW - timedelta(hours=hours) <= at <= NOW]
    assert {"hard_bounce", "complaint"} <= set(recent)
    assert in_window.delivered == recent.count("delivered")
    assert in_window.hard_bounce == recent.count("hard_bounce")
    assert in_window.complaint == recent.count("complaint")
