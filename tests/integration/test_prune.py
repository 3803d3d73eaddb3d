"""Retention (issue 19): ``warmup db prune`` archives finished campaigns' ledger rows to
compressed CSV and deletes them; their counters, reports and the domain's sends stay."""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from tests.cli import cli
from tests.pipeline_world import draft, seed_campaign
from warmup.campaigns.report import campaign_report
from warmup.campaigns.store import CampaignStore
from warmup.ledger import counters, counts
from warmup.ledger.store import LedgerStore
from warmup.store.database import Database
from warmup.store.models import AuditEntry, Campaign, LedgerRow

NOW = datetime(2026, 11, 29, 10, 7, tzinfo=UTC)


def figures(database: Database) -> tuple[object, ...]:
    with database.session() as session:
        domain = session.scalar(select(Campaign.domain_id))
    assert domain is not None
    report = campaign_report(database, "c", today=NOW.date(), message_kb=50)
    return (
        report.by_state,
        report.by_outcome,
        counts.by_domain_and_state(database),
        counts.outcomes_by_domain(database),
        LedgerStore(database).accepted_since(domain, NOW.replace(hour=0, minute=0)),
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
    store = CampaignStore(database)
    assert store.finish_campaigns(NOW) == ["c"]
    draft(database, "later", "Hi", "Hello {{ name }}", at=NOW)  # a draft: never pruned
    before = figures(database)
    database.dispose()

    tomorrow = (NOW + timedelta(days=1)).date().isoformat()
    archive = tmp_path / "archive"
    listed = cli(database_url, "db", "prune", "--finished-before", tomorrow, "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "would prune c"
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
    assert again.stdout.strip().endswith("0 campaign(s) pruned, 0 rows")
    # The export does not pass off an empty file as the campaign: it names the archive.
    exported = cli(database_url, "campaign", "export", "-c", "c", "-o", str(tmp_path / "c.csv"))
    assert exported.returncode != 0
    archived_as = next(archive.glob("ledger-c-*.csv.gz")).name
    assert "campaign 'c' was pruned on " in exported.stderr
    assert f"its rows are in {archived_as}" in exported.stderr
    assert not (tmp_path / "c.csv").exists()
    database.dispose()
