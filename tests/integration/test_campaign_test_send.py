"""``warmup campaign test``: the campaign's own message, rendered for a member of its list,
sent to the tester through the domain's caps; in the audit log, not in the campaign's figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import requests

from harness.deployment import EmulatorProcess
from harness.pipeline_world import DOMAIN, add_domain, draft, people_list
from tests.cli import cli, url_of
from tests.conftest import EMULATOR_KEY
from warmup.audit import AuditFilter, AuditLog
from warmup.ledger import counters
from warmup.store.database import Database
from warmup.wiring import Stores

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
# One send an hour: the test send takes it, a second finds no room.
ONE_AN_HOUR = """
name: one-an-hour
quota: {per_minute: 1000, per_hour: 10000, headroom: 1.0}
steps:
  - {per_minute: 1, per_hour: 1, per_day: 10}
"""


# A Redis database of these tests' own: the limiter's keys have no per-test prefix.
REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture
def emulator() -> Iterator[str]:
    limiter = redis.Redis.from_url(REDIS_URL)
    limiter.flushdb()
    process = EmulatorProcess(EMULATOR_KEY, "--sender-domain", DOMAIN)
    yield process.url
    process.stop()
    limiter.flushdb()


def _campaign(database: Database, tmp_path: Path, plan: str) -> None:
    add_domain(database, plan, now=NOW)
    people_list(
        database, tmp_path, ["ada@example.org,Ada", "bob@example.org,Bob"], at=NOW
    )  # fmt: skip
    draft(database, "spring", "Hello {{ name }}", "Hi {{ name }}: {{ unsubscribe_url }}", at=NOW)


def _env(emulator: str) -> dict[str, str]:
    return {
        "WARMUP_ACS_CONNECTION_STRING": f"endpoint={emulator}/;accesskey={EMULATOR_KEY}",
        "WARMUP_REDIS_URL": REDIS_URL,
        "WARMUP_UNSUBSCRIBE_SECRET": "unsubscribe-secret-for-tests",
    }


def test_the_campaigns_message_for_a_member_reaches_the_tester_and_nobody_else(
    database: Database, tmp_path: Path, emulator: str
) -> None:
    _campaign(database, tmp_path, ONE_AN_HOUR)
    env = _env(emulator)
    done = cli(url_of(database), "campaign", "test", "-c", "spring", "--to", "me@example.net",
               "--as", "bob@example.org", env=env)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "its message for bob@example.org ('Hello Bob') to me@example.net" in done.stdout
    assert "status: Succeeded" in done.stdout
    stats = requests.get(f"{emulator}/_emulator/stats?recipients=true", timeout=5).json()
    assert stats["accepted_per_recipient"] == {"me@example.net": 1}  # Bob got nothing
    # Audited; no ledger row, no figure of the campaign counts it.
    campaign = Stores(database).campaigns.get("spring")
    entries = AuditLog(database).oldest_first(AuditFilter(subject="spring"))
    assert entries[-1].action == "test-send"
    assert "to me@example.net, rendered for bob@example.org: Succeeded" in (
        entries[-1].reason or ""
    )
    with database.session() as session:
        assert counters.counts(session, [campaign.id]) == []
    # The permit came from the domain's hour: a second test finds no room, and says when.
    again = cli(url_of(database), "campaign", "test", "-c", "spring", "--to", "me@example.net",
                env=env)  # fmt: skip
    assert again.returncode == 1, again.stdout + again.stderr
    assert f"domain {DOMAIN} has no room for a test send now" in again.stderr
    stats = requests.get(f"{emulator}/_emulator/stats", timeout=5).json()
    assert stats["accepted"] == 1


def test_a_member_not_on_the_list_is_refused_before_anything_is_sent(
    database: Database, tmp_path: Path, emulator: str
) -> None:
    _campaign(database, tmp_path, ONE_AN_HOUR)
    done = cli(url_of(database), "campaign", "test", "-c", "spring", "--to", "me@example.net",
               "--as", "eve@example.org", env=_env(emulator))  # fmt: skip
    assert done.returncode != 0
    assert "eve@example.org is not on the list of campaign spring" in done.stderr
    assert requests.get(f"{emulator}/_emulator/stats", timeout=5).json()["accepted"] == 0
