"""Retention (issue 19): ``warmup db prune`` archives finished campaigns' ledger rows to
compressed CSV and deletes them; their counters, reports and the domain's sends stay."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from harness.pipeline_world import DOMAIN, SENDER, add_domain, draft, seed_campaign
from harness.relay_world import submission
from tests.cli import cli
from warmup.campaigns import prune as prune_module
from warmup.campaigns.prune import prune_streams
from warmup.campaigns.report import campaign_report
from warmup.campaigns.streams import stream_name
from warmup.domains.store import DomainStore
from warmup.ledger import counters, counts
from warmup.ledger.store import LedgerStore
from warmup.relay import intake as intake_module
from warmup.relay.intake import Submission, forget_sent
from warmup.relay.users import RelayAccount
from warmup.store.database import Database
from warmup.store.models import AuditEntry, Campaign, LedgerRow, RelayMessage
from warmup.wiring import Stores

NOW = datetime(2026, 11, 29, 10, 7, tzinfo=UTC)


def figures(database: Database, name: str = "c", since: datetime = NOW) -> tuple[object, ...]:
    """What prune must leave as it was: the campaign's report, its domain's states, outcomes
    and sends since the start of ``since``'s day."""
    with database.session() as session:
        domain = session.scalar(select(Campaign.domain_id).where(Campaign.name == name))
    assert domain is not None
    report = campaign_report(database, DomainStore(database), name, today=NOW.date(), message_kb=50)
    return (
        report.by_state,
        report.by_outcome,
        counts.by_domain_and_state(database),
        counts.outcomes_by_domain(database),
        LedgerStore(database).accepted_since(domain, since.replace(hour=0, minute=0)),
    )


def test_prune_archives_the_rows_and_keeps_the_figures(database_url: str, tmp_path: Path) -> None:
    database = Database.connect(database_url, migrate=True)
    seed_campaign(database, tmp_path, recipients=30, now=NOW)
    with database.engine.begin() as connection:
        connection.execute(
            update(LedgerRow).values(
                state="accepted",
                accepted_at=NOW,
                attempts=1,
                outcome="delivered",
                outcome_at=NOW + timedelta(minutes=3),
            )
        )
    store = Stores(database).campaigns
    assert store.finish_campaigns(NOW) == ["c"]
    draft(database, "later", "Hi", "Hello {{ name }}", at=NOW)  # a draft: never pruned
    before = figures(database)
    database.dispose()

    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    archive = tmp_path / "archive"
    listed = cli(database_url, "db", "prune", "--finished-before", tomorrow, "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == "would prune c"
    assert "would delete the bodies of 0 relayed message(s)" in listed.stdout
    pruned = cli(
        database_url, "db", "prune", "--finished-before", tomorrow, "--archive-dir", str(archive)
    )
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert "c: 30 rows archived to" in pruned.stdout

    database = Database.connect(database_url, migrate=True)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(LedgerRow)) == 0
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.subject == "c")))
    assert actions[-1] == "prune"
    with gzip.open(next(archive.glob("ledger-c-*.csv.gz")), "rt") as archived:
        rows = list(csv.DictReader(archived))
    assert len(rows) == 30
    assert {row["state"] for row in rows} == {"accepted"}
    assert figures(database) == before  # the counters kept every figure
    assert counters.mismatches(database) == []
    checked = cli(database_url, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    again = cli(database_url, "db", "prune", "--finished-before", tomorrow)
    assert "0 campaign(s) pruned, 0 rows" in again.stdout
    # The export does not pass off an empty file as the campaign: it names the archive.
    exported = cli(database_url, "campaign", "export", "-c", "c", "-o", str(tmp_path / "c.csv"))
    assert exported.returncode != 0
    archived_as = next(archive.glob("ledger-c-*.csv.gz")).name
    assert "campaign 'c' was pruned on " in exported.stderr
    assert f"its rows are in {archived_as}" in exported.stderr
    assert not (tmp_path / "c.csv").exists()
    database.dispose()


def relay_world(database_url: str) -> tuple[Database, RelayAccount]:
    """A domain and a relay user of it, as the relay authenticates them."""
    database = Database.connect(database_url, migrate=True)
    add_domain(database)
    password = Stores(database).relay_users.add("app", DOMAIN, actor="ops", at=NOW)
    account = Stores(database).relay_users.authenticate("app", password)
    assert account is not None
    return database, account


def test_prune_deletes_relayed_bodies_only_once_every_row_is_final(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relayed message's body goes once it is older than the date and every row sending it
    is final; a row still open (here ``sending``: it may be posted again after a crash) keeps
    it. The ledger rows stay, so who got what and how it went is still there."""
    database, account = relay_world(database_url)
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=1)
    to = [["a@example.org", "b@example.org"], ["c@example.org"], ["d@example.org"],
          ["e@example.org"], ["f@example.org"]]  # fmt: skip
    at = [old, old, old, old, recent]
    intake = Stores(database).relayed
    ids = intake.accept(
        [
            Submission(account, SENDER, t, bytes(submission(SENDER, t)), a)
            for t, a in zip(to, at, strict=True)
        ]
    )
    with database.engine.begin() as connection:
        connection.execute(update(LedgerRow).values(state="accepted", accepted_at=NOW))
        connection.execute(  # message 2: one row may still be posted again
            update(LedgerRow)
            .where(LedgerRow.relay_message_id == ids[1])
            .values(state="sending", accepted_at=None)
        )
    database.dispose()
    cutoff = (NOW - timedelta(days=30)).date().isoformat()
    listed = cli(database_url, "db", "prune", "--finished-before", cutoff, "--dry-run")
    assert "would delete the bodies of 3 relayed message(s)" in listed.stdout, listed.stderr

    monkeypatch.setattr(intake_module, "FORGET_CHUNK", 2)  # transactions of two
    heard: list[int] = []
    forgotten = forget_sent(
        database, datetime.fromisoformat(cutoff).replace(tzinfo=UTC), actor="ops", at=NOW,
        progress=lambda so_far: heard.append(so_far.messages),
    )  # fmt: skip
    assert (forgotten.messages, heard) == (3, [2, 3])
    assert forgotten.bytes == sum(len(bytes(submission(SENDER, t))) for t in (to[0], to[2], to[3]))
    with database.session() as session:
        kept = set(session.scalars(select(RelayMessage.id)))
        reasons = list(
            session.scalars(select(AuditEntry.reason).where(AuditEntry.subject == "messages"))
        )
        assert session.scalar(select(func.count()).select_from(LedgerRow)) == 6
    assert kept == {ids[1], ids[4]}
    assert len(reasons) == 2
    assert "all sent" in reasons[0]
    assert intake.message_for(ids[1], "c@example.org")["recipients"]["to"] == [
        {"address": "c@example.org"}
    ]
    again = cli(database_url, "db", "prune", "--finished-before", cutoff)
    assert "bodies of 0 relayed message(s), 0.0 MB deleted" in again.stdout, again.stderr


def test_a_relay_streams_settled_rows_are_pruned_while_it_runs_on(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream never finishes: prune takes its rows settled before the date (refused,
    suppressed, or accepted with their outcome known), in chunks with an archive each, and
    leaves the rest. Its counters, the domain's quarter hours and the reports keep every
    figure; ``db check`` still proves them; the stream goes on taking mail, counted."""
    database, account = relay_world(database_url)
    old, recent = NOW - timedelta(days=40), NOW - timedelta(hours=2)
    intake = Stores(database).relayed

    def relay(addresses: list[str], at: datetime) -> list[int]:
        return intake.accept([
            Submission(account, SENDER, [a], bytes(submission(SENDER, [a])), at)
            for a in addresses
        ])  # fmt: skip

    relay([f"old{i}@example.org" for i in range(7)], old)
    relay(["new@example.org"], recent)
    settled = {"accepted": "old0 old1 old2 old3", "failed": "old4"}
    with database.engine.begin() as connection:
        for state, who in settled.items():
            delivered = state == "accepted"
            connection.execute(
                update(LedgerRow)
                .where(LedgerRow.address.in_([f"{w}@example.org" for w in who.split()]))
                .values(
                    state=state, attempts=1, updated_at=old,
                    accepted_at=old if delivered else None,
                    outcome="delivered" if delivered else None,
                    outcome_at=old + timedelta(minutes=2) if delivered else None,
                )
            )  # fmt: skip
        connection.execute(  # accepted, its report still to come: its row must stay
            update(LedgerRow)
            .where(LedgerRow.address.in_(["old5@example.org", "new@example.org"]))
            .values(state="accepted", attempts=1, accepted_at=old)
        )
        counters.fold(connection)  # old6 stays pending

    name = stream_name(DOMAIN)
    before = figures(database, name, since=old)
    database.dispose()
    cutoff = (NOW - timedelta(days=30)).date().isoformat()
    listed = cli(database_url, "db", "prune", "--finished-before", cutoff, "--dry-run")
    assert f"would prune 5 settled rows of relay stream {name}" in listed.stdout, listed.stderr

    monkeypatch.setattr(prune_module, "STREAM_CHUNK", 2)
    archive = tmp_path / "archive"
    pruned = prune_streams(
        database, datetime.fromisoformat(cutoff).replace(tzinfo=UTC), archive, actor="ops", at=NOW
    )
    assert [p.rows for p in pruned] == [2, 2, 1]
    archived = []
    for chunk in pruned:
        with gzip.open(chunk.archive, "rt") as rows:
            archived += [row["address"] for row in csv.DictReader(rows)]
    assert sorted(archived) == [f"old{i}@example.org" for i in range(5)]
    with database.session() as session:
        left = sorted(session.scalars(select(LedgerRow.address)))
        stream = session.scalars(select(Campaign).where(Campaign.name == name)).one()
        assert (stream.status, stream.pruned_at) == ("running", None)
    assert left == ["new@example.org", "old5@example.org", "old6@example.org"]
    assert figures(database, name, since=old) == before
    assert counters.mismatches(database) == []
    relay(["later@example.org"], NOW)  # the stream runs on, and counts
    assert counters.mismatches(database) == []
    database.dispose()
    checked = cli(database_url, "db", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    again = cli(database_url, "db", "prune", "--finished-before", cutoff)
    assert "relay streams: 0 settled rows pruned" in again.stdout, again.stderr
