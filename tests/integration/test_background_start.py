"""Campaign start as a background job (issue 19): the ledger is filled in chunks while the
campaign is ``starting``; it sends nothing until the fill is complete; a fill killed half-way
is resumed without skipping or repeating anyone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import add_domain, draft, people_list
from warmup.campaigns.store import CampaignStore
from warmup.domains.store import DomainStore
from warmup.ledger import counters
from warmup.ledger.fill import FILL_WORK_MEM, fill_chunk
from warmup.ledger.store import LedgerStore
from warmup.store.database import Database
from warmup.store.models import AuditEntry, Campaign, LedgerRow, Recipient
from warmup.suppression.store import SuppressionStore

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def list_of(database: Database, folder: Path, recipients: int) -> None:
    """A list whose engagement falls with the line number, some rows without any."""
    lines = (
        f"p{i}@example.org,P{i},{'' if i % 7 == 3 else f'{1 - i / recipients:.6f}'}"
        for i in range(recipients)
    )
    people_list(database, folder, lines, header="email,name,engagement", at=NOW)


def ledger_order(database: Database) -> list[str]:
    with database.session() as session:
        return list(session.scalars(select(LedgerRow.address).order_by(LedgerRow.rank)))


def expected_order(database: Database) -> list[str]:
    with database.session() as session:
        return list(
            session.scalars(
                select(Recipient.address).order_by(
                    Recipient.engagement.desc().nulls_last(),
                    Recipient.last_engaged_at.desc().nulls_last(),
                    Recipient.id,
                )
            )
        )


def test_a_chunked_fill_is_the_same_fill(database: Database, tmp_path: Path) -> None:
    add_domain(database, now=NOW)
    list_of(database, tmp_path, 95)
    SuppressionStore(database).add(
        "p5@example.org", reason="hard_bounce", source="event", actor="t", at=NOW
    )
    draft(database, "c", "Hi", "Hello {{ name }}", at=NOW)
    store = CampaignStore(database, domains=DomainStore(database), fill_chunk_rows=10)
    seen: list[tuple[str, int, int]] = []
    rows = store.start(
        "c", actor="t", at=NOW, progress=lambda f: seen.append((f.status, f.done, f.total))
    )
    assert rows == 95
    # Ten chunks of ten rows, the last one short and setting it running.
    assert [done for _, done, _ in seen] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    assert {status for status, _, _ in seen[:-1]} == {"starting"}
    assert seen[-1] == ("running", 95, 95)
    assert ledger_order(database) == expected_order(database)
    with database.session() as session:
        ranks = list(session.scalars(select(LedgerRow.rank).order_by(LedgerRow.rank)))
        suppressed = session.scalar(
            select(LedgerRow.state).where(LedgerRow.address == "p5@example.org")
        )
    assert ranks == list(range(1, 96))
    assert suppressed == "suppressed"
    assert counters.mismatches(database) == []


def test_the_fills_sort_memory_stays_in_its_own_transaction(
    postgres_url: str, tmp_path: Path
) -> None:
    """A chunk sorts with FILL_WORK_MEM; the pooled connection it used goes back with the
    server's own work_mem, not with a quarter of a gigabyte for every later statement."""
    database = Database.connect(postgres_url, migrate=True)
    add_domain(database, now=NOW)
    list_of(database, tmp_path, 12)
    draft(database, "c", "Hi", "Hello {{ name }}", at=NOW)
    with database.engine.connect() as connection:
        default = connection.exec_driver_sql("SHOW work_mem").scalar_one()
    assert default != FILL_WORK_MEM
    seen: dict[int, str] = {}  # the fill's connection (backend pid): its work_mem then

    def during_the_fill(*args: Any, **kwargs: Any) -> int:
        written = fill_chunk(*args, **kwargs)
        pid = args[0].exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        seen[pid] = args[0].exec_driver_sql("SHOW work_mem").scalar_one()
        return written

    store = CampaignStore(database, domains=DomainStore(database), fill_chunk_rows=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("warmup.campaigns.store.ledger.fill_chunk", during_the_fill)
        assert store.start("c", actor="t", at=NOW) == 12
    assert set(seen.values()) == {FILL_WORK_MEM}
    # Every pooled connection, the fill's among them, is back at the server's default.
    after: dict[int, str] = {}
    with ExitStack() as held:
        for _ in range(database.engine.pool.size()):  # type: ignore[attr-defined]
            connection = held.enter_context(database.engine.connect())
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            after[pid] = connection.exec_driver_sql("SHOW work_mem").scalar_one()
    assert set(seen) <= set(after)
    assert set(after.values()) == {default}
    database.dispose()


def test_nothing_is_sent_before_the_fill_is_complete(database: Database, tmp_path: Path) -> None:
    add_domain(database, now=NOW)
    list_of(database, tmp_path, 30)
    draft(database, "c", "Hi", "Hello {{ name }}", at=NOW)
    store = CampaignStore(database, domains=DomainStore(database), fill_chunk_rows=10)
    begun = store.begin_start("c", actor="t", at=NOW)
    assert (begun.status, begun.done, begun.total) == ("starting", 0, 30)
    store.fill_step("c", NOW)
    with database.session() as session:
        domain_id = session.scalar(select(Campaign.domain_id))
    assert domain_id is not None
    assert store.fill_state("c").done == 10
    assert LedgerStore(database).load(domain_id, NOW).demand == ()  # the dispatcher's read
    # A cancel while starting stops the fill and skips what was written.
    store.change("c", "cancel", actor="t", reason="wrong list", at=NOW)
    after = store.fill_step("c", NOW)
    assert (after.status, after.done) == ("cancelled", 10)
    assert LedgerStore(database).load(domain_id, NOW).in_flight == 0


def test_a_killed_fill_is_resumed_without_gaps_or_repeats(
    postgres_url: str, tmp_path: Path
) -> None:
    """A real ``warmup campaign start`` process, SIGKILLed half-way through its fill."""
    database = Database.connect(postgres_url, migrate=True)
    add_domain(database, now=NOW)
    list_of(database, tmp_path, 2_000)
    draft(database, "c", "Hi", "Hello {{ name }}", at=NOW)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")},
        "WARMUP_DATABASE_URL": postgres_url,
        "WARMUP_UNSUBSCRIBE_SECRET": "background-start-test-secret",
        "WARMUP_FILL_CHUNK_ROWS": "10",
    }
    filler = subprocess.Popen(
        [sys.executable, "-m", "warmup", "campaign", "start", "-c", "c"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def written() -> int:
        with database.session() as session:
            return int(session.scalar(select(func.count()).select_from(LedgerRow)) or 0)

    deadline = time.monotonic() + 60
    while written() < 300 and time.monotonic() < deadline and filler.poll() is None:
        time.sleep(0.01)
    filler.send_signal(signal.SIGKILL)
    output = filler.communicate(timeout=30)[0].decode()
    assert filler.returncode == -signal.SIGKILL, output
    store = CampaignStore(database, domains=DomainStore(database), fill_chunk_rows=10)
    cut = store.fill_state("c")
    assert cut.status == "starting", "the fill ended before it was killed: make it slower"
    assert 300 <= cut.done < 2_000
    assert cut.done % 10 == 0  # whole chunks: each is one transaction
    assert counters.mismatches(database) == []
    # Housekeeping hands the abandoned fill out once it has been quiet for the stall time.
    with database.session() as session:
        heartbeat = session.scalar(select(Campaign.fill_heartbeat))
    assert heartbeat is not None
    assert store.claim_stalled_fills(heartbeat + timedelta(seconds=30), timedelta(minutes=2)) == []
    later = heartbeat + timedelta(minutes=3)
    assert store.claim_stalled_fills(later, timedelta(minutes=2)) == ["c"]
    # Running the command again goes on where the killed one stopped.
    resumed = subprocess.run(
        [sys.executable, "-m", "warmup", "campaign", "start", "-c", "c"],
        env={**environment, "WARMUP_FILL_CHUNK_ROWS": "500"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "campaign c running: 2,000 recipients in the ledger" in resumed.stdout
    assert ledger_order(database) == expected_order(database)  # none skipped, none twice
    with database.session() as session:
        ranks = list(session.scalars(select(LedgerRow.rank).order_by(LedgerRow.rank)))
        actions = list(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject == "c").order_by(AuditEntry.id)
            )
        )
    assert ranks == list(range(1, 2_001))
    assert actions == ["create", "start", "filled"]
    assert counters.mismatches(database) == []
    database.dispose()
