"""`warmup feedback pull` with the real azure-monitor-query client against the emulator's Log
Analytics query API (over TLS from its test CA): paging through a large table once, nothing new
the second time, reports matched to their sends with TimeGenerated as their time, and the
failures ops meet (throttling, a watermark past retention)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from harness.pipeline_world import world
from tests.cli import cli, url_of
from tests.conftest import emulator_config
from warmup.emulator.config import EngagementRule
from warmup.emulator.server import EmulatorServer
from warmup.errors import ConfigError
from warmup.feedback.intake import FeedbackStore
from warmup.feedback.pull import ENGAGEMENT, STATUS, LogPull
from warmup.management.logs import LogsQuery
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.store.models import DeliveryEvent, EngagementEvent, LedgerRow, Recipient

pytestmark = pytest.mark.integration
WORKSPACE = "5a0b3f6e-0000-4000-8000-00000000beef"


def query_settings(server: EmulatorServer, folder: Path) -> Settings:
    ca = folder / "emulator-ca.pem"
    ca.write_bytes(server.ca_pem)
    return Settings(  # type: ignore[call-arg]
        log_analytics_endpoint=server.arm_url,
        azure_ca_file=ca,
        azure_access_token=SecretStr("token"),
    )


@pytest.fixture
def big_table(tmp_path: Path) -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_config(arm_port=0, synthetic_log_rows=100_000)) as server:
        yield server


@pytest.mark.timeout(400)
def test_100000_rows_are_read_in_pages_once_and_a_second_pull_adds_nothing(
    big_table: EmulatorServer, postgres_url: str, tmp_path: Path
) -> None:
    database = Database.connect(postgres_url, migrate=True)
    query = LogsQuery(query_settings(big_table, tmp_path), WORKSPACE)
    pull = LogPull(database, FeedbackStore(database))
    started = big_table.emulator.started_wall
    try:
        first = pull.run(WORKSPACE, query, datetime.now(UTC), since=started - timedelta(days=1))
        second = pull.run(WORKSPACE, query, datetime.now(UTC))
    finally:
        query.close()
    assert first.rows == 100_000
    assert first.pages == 11  # ten full pages of 10,000, then an empty one
    assert first.ingest.received - first.ingest.duplicates == 100_000
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryEvent)) == 100_000
    # The second pull re-reads only its overlap (rows that may have reached the workspace
    # late), all of them known already.
    assert 0 < second.rows < 100_000
    assert second.ingest.received == second.ingest.duplicates
    assert pull.watermark(f"log-analytics:{WORKSPACE}/{STATUS.name}") == first.position
    database.dispose()


@pytest.mark.timeout(120)
def test_pulled_reports_find_their_sends_and_carry_time_generated(
    postgres_url: str, tmp_path: Path
) -> None:
    with world(postgres_url, tmp_path, recipients=40, arm_port=0, bounce_rate=0.1, seed=3) as w:
        w.run_until_done(timeout=60)
        settings = query_settings(w.emulator, tmp_path)
        env = {
            "WARMUP_LOG_ANALYTICS_ENDPOINT": settings.log_analytics_endpoint,
            "WARMUP_AZURE_CA_FILE": str(settings.azure_ca_file),
            "WARMUP_AZURE_ACCESS_TOKEN": "token",
        }
        time.sleep(0.1)
        pulled = cli(
            url_of(w.database), "feedback", "pull", "--workspace-id", WORKSPACE,
            "--since", (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "--lag-seconds", "0",
            env={**env, "WARMUP_DATABASE_URL": url_of(w.database)},
        )  # fmt: skip
        assert pulled.returncode == 0, pulled.stderr
        assert "40 new reports (40 matched to sends)" in pulled.stdout
        with w.database.session() as session:
            outcomes = session.scalar(
                select(func.count()).select_from(LedgerRow).where(LedgerRow.outcome.is_not(None))
            )
            reported = [t for t in session.scalars(select(LedgerRow.outcome_at)) if t is not None]
        assert outcomes == 40
        accepted = {
            op.message_id: op.accepted_wall for op in w.emulator.emulator.operations.values()
        }
        # TimeGenerated: acceptance plus the emulator's event delay, not the pull's time.
        assert max(reported) <= max(accepted.values()) + timedelta(seconds=5)
        again = cli(
            url_of(w.database), "feedback", "pull", "--workspace-id", WORKSPACE,
            "--lag-seconds", "0", env={**env, "WARMUP_DATABASE_URL": url_of(w.database)},
        )  # fmt: skip
        assert "0 new reports" in again.stdout


def test_a_throttled_query_and_an_old_watermark_are_said_plainly(
    database: Database, tmp_path: Path
) -> None:
    with EmulatorServer(emulator_config(arm_port=0, synthetic_log_rows=10)) as server:
        settings = query_settings(server, tmp_path)
        env = {
            "WARMUP_LOG_ANALYTICS_ENDPOINT": settings.log_analytics_endpoint,
            "WARMUP_AZURE_CA_FILE": str(settings.azure_ca_file),
            "WARMUP_AZURE_ACCESS_TOKEN": "token",
            "WARMUP_LOG_ANALYTICS_WORKSPACE_ID": WORKSPACE,
        }
        url = url_of(database)
        old = cli(url, "feedback", "pull", "--since", "2020-01-01T00:00:00", env=env)
        assert old.returncode == 0, old.stderr
        assert "older than the workspace's retention" in old.stderr
        server.reconfigure(fault_429_rate=1.0, fault_retry_after_seconds=0)
        throttled = cli(url, "feedback", "pull", env=env)
        assert throttled.returncode != 0
        assert "Log Analytics is throttling" in throttled.stderr
        assert "Traceback" not in throttled.stderr
        missing = cli(url, "feedback", "pull", env={**env, "WARMUP_LOG_ANALYTICS_WORKSPACE_ID": ""})
        assert "WARMUP_LOG_ANALYTICS_WORKSPACE_ID" in missing.stderr


@pytest.mark.timeout(180)
def test_opens_and_clicks_pulled_from_the_engagement_log_are_kept_once_and_rank_recipients(
    postgres_url: str, tmp_path: Path
) -> None:
    rules = [EngagementRule(subject="^Hi", open_rate=0.6, click_rate=0.5)]
    with world(
        postgres_url, tmp_path, recipients=60, arm_port=0, seed=9, engagement_rules=rules
    ) as w:
        w.run_until_done(timeout=60)  # no webhook yet: engagement only in the log
        made = sum(w.emulator.stats()["engagements"].values())
        assert made > 0
        query = LogsQuery(query_settings(w.emulator, tmp_path), WORKSPACE)
        pull = LogPull(w.database, FeedbackStore(w.database))
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        try:
            pulled = pull.run(
                WORKSPACE, query, datetime.now(UTC), table=ENGAGEMENT, since=hour_ago,
                lag=timedelta(0),
            )  # fmt: skip
            again = pull.run(
                WORKSPACE, query, datetime.now(UTC), table=ENGAGEMENT, lag=timedelta(0)
            )
        finally:
            query.close()
        assert pulled.ingest.received - pulled.ingest.duplicates == made
        assert again.ingest.received == again.ingest.duplicates  # nothing new
        with w.database.session() as session:
            kept = session.scalar(select(func.count()).select_from(EngagementEvent))
            engaged = session.scalar(
                select(func.count()).select_from(Recipient).where(Recipient.engagement > 0)
            )
        assert kept == made
        assert engaged > 0  # the loop: opens and clicks raised their recipients' engagement


def test_rows_without_a_column_the_pull_needs_are_refused_naming_it(database: Database) -> None:
    """A renamed or missing column is one clear error naming it, before anything is stored
    (the last row's _ItemId was a KeyError after the page's reports were in)."""
    now = datetime.now(UTC)
    row = {
        "TimeGenerated": (now - timedelta(minutes=30)).isoformat(),
        "CorrelationId": "0b7c1f0e-1111-2222-3333-444455556666",
        "RecipientId": "ada@example.org",
        "DeliveryStatus": "Delivered",
    }
    pull = LogPull(database, FeedbackStore(database))
    with pytest.raises(ConfigError, match="without the column _ItemId") as refused:
        pull.run(WORKSPACE, lambda _kql: [row], now, lag=timedelta(0))
    assert "DeliveryStatus" in str(refused.value)  # what it did give
    assert pull.watermark(f"log-analytics:{WORKSPACE}/{STATUS.name}") is None
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryEvent)) == 0
    engagement = {"TimeGenerated": row["TimeGenerated"], "_ItemId": "1", "CorrelationId": "x"}
    with pytest.raises(ConfigError, match="RecipientEmailAddress, EngagementType"):
        pull.run(WORKSPACE, lambda _kql: [engagement], now, table=ENGAGEMENT, lag=timedelta(0))
