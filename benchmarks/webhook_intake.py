"""How many delivery reports a second one API process takes in through its webhook.

Seeds a fresh PostgreSQL schema with a started campaign whose rows ACS accepted (each with its
message id), then posts Event Grid batches of 100 EmailDeliveryReportReceived events (98 %
Delivered, 2 % Bounced: those suppress) to ``/webhooks/acs`` in process, and finally the same
batches again (redeliveries: nothing new is stored). Each report matches a ledger row, as in
production. Target (issue 19): at least 3,000 reports/s.

    python benchmarks/webhook_intake.py [--reports 20000] [--batch 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = secrets.token_urlsafe(24)


def measure(reports: int, batch: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from tests.conftest import postgres_schema_url
    from tests.pipeline_world import SENDER, seed_campaign
    from warmup.api.app import create_app
    from warmup.emulator import events
    from warmup.emulator.config import EventSchema
    from warmup.settings import Settings
    from warmup.store.database import Database
    from warmup.store.models import LedgerRow

    # A fresh schema, migrated, dropped afterwards: the tests' own.
    with contextmanager(postgres_schema_url)() as url:
        database = Database.connect(url)
        seed_campaign(database, Path(tempfile.mkdtemp()), recipients=reports)
        now = datetime.now(UTC)
        with database.engine.begin() as connection:  # as the workers leave them: sent
            connection.execute(
                sqlalchemy.update(LedgerRow).values(
                    state="accepted", message_id=LedgerRow.operation_id, accepted_at=now
                )
            )
            rows = connection.execute(
                sqlalchemy.select(LedgerRow.address, LedgerRow.message_id)
            ).all()
        bodies = []
        for start in range(0, len(rows), batch):
            batch_events = []
            for index, (address, message_id) in enumerate(rows[start : start + batch], start):
                data = events.delivery_data(
                    sender=SENDER,
                    recipient=address,
                    message_id=message_id,
                    status="Bounced" if index % 50 == 49 else "Delivered",
                    details="No error.",
                    mail_server="mx.example.org",
                    attempted_at=now,
                )
                batch_events.append(events.envelope(EventSchema.EVENT_GRID, data))
            bodies.append(json.dumps(batch_events))
        settings = Settings(database_url=SecretStr(url), webhook_secrets=SecretStr(SECRET))
        timings = {}
        with TestClient(create_app(settings, database)) as client:
            for label in ("first delivery", "redelivery"):
                began = time.perf_counter()
                for body in bodies:
                    answer = client.post(
                        f"/webhooks/acs?code={SECRET}",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                    assert answer.status_code == 200, answer.text
                timings[label] = time.perf_counter() - began
        with database.session() as session:
            matched = session.scalar(
                sqlalchemy.select(sqlalchemy.func.count()).where(LedgerRow.outcome.is_not(None))
            )
        database.dispose()
    return {
        "benchmark": "webhook_intake",
        "reports": reports,
        "batch": batch,
        "matched": matched,
        "reports_per_second": round(reports / timings["first delivery"]),
        "redeliveries_per_second": round(reports / timings["redelivery"]),
        "meets_target": reports / timings["first delivery"] >= 3000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.reports, args.batch)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
