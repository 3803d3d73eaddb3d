"""A suppression made after a campaign started is honoured at send time, whatever its source.

The rows are already claimed into batches when the addresses are suppressed, through the CLI,
the API, a suppression import, an unsubscribe link, a bounce report and a complaint report (the
last three through the API's real endpoints). Then the batches run: none of those addresses
reaches the emulator, and each row ends ``suppressed``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from harness.pipeline_world import exactly_once, world
from warmup.api.app import create_app
from warmup.campaigns.compose import unsubscriber_from
from warmup.emulator import events as emulated
from warmup.emulator.config import EventSchema
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.store.models import LedgerRow, Suppression
from warmup.suppression.store import SuppressionStore, suppress_in
from warmup.tokens import Role, TokenStore
from warmup.wiring import Stores

pytestmark = pytest.mark.integration

VIA = {
    "cli": "r1@example.org",
    "api": "r2@example.org",
    "import": "r3@example.org",
    "unsubscribe": "r4@example.org",
    "bounce": "r5@example.org",
    "complaint": "r6@example.org",
}


def report(recipient: str, status: str, details: str) -> object:
    data = emulated.delivery_data(
        sender="news@mail.example.com",
        recipient=recipient,
        message_id=f"earlier-{recipient}",
        status=status,
        details=details,
        mail_server="mx",
        attempted_at=datetime.now(UTC),
    )
    return emulated.envelope(EventSchema.EVENT_GRID, data)


def suppress_through_every_path(database_url: str, database: Database, tmp_path: Path) -> None:
    env = {**os.environ, "WARMUP_DATABASE_URL": database_url}
    cli = [sys.executable, "-m", "warmup", "suppression"]
    subprocess.run([*cli, "add", VIA["cli"], "--reason", "manual"], env=env, check=True)
    listed = tmp_path / "suppress.csv"
    listed.write_text(f"address,reason\n{VIA['import']},unsubscribe\n", encoding="utf-8")
    subprocess.run([*cli, "import", str(listed)], env=env, check=True)

    settings = Settings(
        webhook_secrets=SecretStr("a-hook-secret-for-tests"),
        unsubscribe_secret=SecretStr("pipeline-test-secret"),
        public_url="https://mail.example.com",
        api_data_dir=tmp_path / "api-data",
    )
    now = datetime.now(UTC)
    token, _ = TokenStore(database).create("m", Role.MARKETING, actor="t", at=now)
    campaign = Stores(database).campaigns.get("c")
    link = unsubscriber_from(settings).token(campaign.id, VIA["unsubscribe"])
    with TestClient(create_app(settings, database)) as client:
        added = client.post(
            "/api/suppressions",
            json={"address": VIA["api"], "reason": "manual"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert added.status_code in (200, 201), added.text
        assert client.post(f"/u/{link}").status_code == 200
        events = [
            report(VIA["bounce"], "Bounced", "550 5.1.1 user unknown"),
            report(VIA["complaint"], "FilteredSpam", "spam"),
        ]
        answer = client.post("/webhooks/acs?code=a-hook-secret-for-tests", json=events)
        assert answer.status_code == 200, answer.text


def test_suppressed_after_start_from_any_source_is_never_sent(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=40) as w:
        batches = w.runtime.dispatch()  # rows claimed before anyone suppresses anything
        assert sum(len(b.row_ids) for b in batches) == 40
        suppress_through_every_path(database_url, w.database, tmp_path)
        time.sleep(1.1)  # a suppression committed a second before the send
        for batch in batches:
            w.runtime.run_batch(batch.to_message())
        w.run_until_done()
        stats = w.emulator.stats(include_recipients=True)
        with w.database.session() as session:
            rows = {r.address: r for r in session.scalars(select(LedgerRow))}
            reasons = dict(session.execute(select(Suppression.address, Suppression.reason)).all())
    sent = set(stats["accepted_per_recipient"])
    for source, address in VIA.items():
        assert address not in sent, f"{address}, suppressed through {source}, was sent"
        assert rows[address].state == "suppressed", source
        assert "suppressed at send time" in (rows[address].last_error or ""), source
    assert len(sent) == 40 - len(VIA)
    assert reasons[VIA["bounce"]] == "hard_bounce"
    assert reasons[VIA["complaint"]] == "complaint"
    exactly_once({**stats, "distinct_recipients": len(sent)}, 40 - len(VIA))


def test_a_suppression_while_a_send_waits_on_a_retry_is_honoured(
    database_url: str, tmp_path: Path
) -> None:
    # Every first attempt is throttled for a second; the address is suppressed meanwhile.
    with world(
        database_url, tmp_path, recipients=1, fault_429_rate=1.0, fault_retry_after_seconds=1
    ) as w:
        batches = w.runtime.dispatch()
        store = SuppressionStore(w.database)

        def heal_and_suppress() -> None:
            time.sleep(0.3)
            store.add(
                "r0@example.org", reason="unsubscribe", source="t", actor="t", at=datetime.now(UTC)
            )
            w.emulator.reconfigure(fault_429_rate=0.0)

        import threading

        helper = threading.Thread(target=heal_and_suppress)
        helper.start()
        for batch in batches:
            w.runtime.run_batch(batch.to_message())
        helper.join()
        stats = w.emulator.stats()
        with w.database.session() as session:
            row = session.scalars(select(LedgerRow)).one()
    assert stats["accepted"] == 0
    assert row.state == "suppressed"


def test_suppressing_again_never_weakens(database: Database) -> None:
    store = SuppressionStore(database)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)

    def add(reason: str, note: str = "", days: int | None = None) -> None:
        expires = t0 + timedelta(days=days) if days is not None else None
        store.add(
            "a@example.org",
            reason=reason,
            source=reason,
            actor="t",
            at=t0,
            expires_at=expires,
            note=note,
        )

    def entry() -> Suppression:
        found = store.find("a@example.org", t0)
        assert found is not None
        return found

    add("soft_bounce", "first", days=2)
    add("soft_bounce", days=1)
    assert entry().expires_at == t0 + timedelta(days=2)  # never shortened
    add("unsubscribe", "asked")
    add("manual")  # re-added by hand without a reason: the person's wish stays
    assert (entry().reason, entry().expires_at, entry().note) == (
        "unsubscribe",
        None,
        "first; asked",
    )
    with database.session() as session:
        suppress_in(
            session, "a@example.org", reason="hard_bounce", source="report", actor="feedback", at=t0
        )
    assert entry().reason == "hard_bounce"
    assert entry().note == "first; asked"


def test_a_hard_bounce_makes_a_temporary_suppression_permanent(database: Database) -> None:
    store = SuppressionStore(database)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    store.add(
        "b@example.org",
        reason="soft_bounce",
        source="s",
        actor="t",
        at=t0,
        expires_at=t0 + timedelta(days=1),
    )
    with database.session() as session:
        assert not suppress_in(
            session, "b@example.org", reason="complaint", source="report", actor="feedback", at=t0
        )
    found = store.find("b@example.org", t0 + timedelta(days=400))
    assert found is not None
    assert (found.reason, found.expires_at) == ("complaint", None)
