"""How many delivery reports a second one API process takes in through its webhook.

Seeds a fresh PostgreSQL schema with a started campaign whose rows ACS accepted (each with its
message id), then posts Event Grid batches of 100 EmailDeliveryReportReceived events (98 %
Delivered, 2 % Bounced: those suppress) to ``/webhooks/acs``, and finally the same batches
again (redeliveries: nothing new is stored). Each report matches a ledger row, as in
production. Twice, each on a fresh schema:

- ``api_process``: a real ``warmup api`` process, posted to over loopback by ``--concurrency``
  senders at once (Event Grid delivers in parallel). Target (issue 19): at least 3,000
  reports/s.
- ``in_process``: the app in this process through FastAPI's test client, one batch after the
  other (the client's work shares the process).

    python benchmarks/webhook_intake.py [--reports 20000] [--batch 100] [--concurrency 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SECRET = secrets.token_urlsafe(24)


@contextmanager
def seeded(reports: int, batch: int) -> Iterator[tuple[str, Any, list[str]]]:
    """A fresh schema whose campaign's rows ACS accepted, and the Event Grid bodies of their
    delivery reports (2 % bounces)."""
    from harness.pipeline_world import SENDER, seed_campaign
    from harness.services import postgres_schema
    from warmup.emulator import events
    from warmup.emulator.config import EventSchema
    from warmup.store.database import Database
    from warmup.store.models import LedgerRow

    # A fresh schema, migrated, dropped afterwards: the tests' own.
    with postgres_schema() as url:
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
        try:
            yield url, database, bodies
        finally:
            database.dispose()


def matched(database: Any) -> int:
    from warmup.store.models import LedgerRow

    with database.session() as session:
        return int(
            session.scalar(
                sqlalchemy.select(sqlalchemy.func.count()).where(LedgerRow.outcome.is_not(None))
            )
            or 0
        )


def in_process(url: str, database: Any, bodies: list[str]) -> dict[str, float]:
    """The app in this process, through FastAPI's test client, one batch after the other:
    the client's own work is counted in."""
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from warmup.api.app import create_app
    from warmup.settings import Settings

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
    return timings


def api_process(url: str, bodies: list[str], concurrency: int) -> dict[str, float]:
    """A real ``warmup api`` process (uvicorn), posted to over loopback by ``concurrency``
    senders at once, as Event Grid delivers in parallel."""
    import requests

    from harness.deployment import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env |= {
        "WARMUP_DATABASE_URL": url,
        "WARMUP_WEBHOOK_SECRETS": SECRET,
        "WARMUP_LOG_LEVEL": "WARNING",
    }
    api = subprocess.Popen(
        [sys.executable, "-m", "warmup", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    timings = {}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                if api.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(api.communicate()[1].decode(errors="replace")) from None
                time.sleep(0.1)
        local = threading.local()

        def post(body: str) -> None:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            answer = local.session.post(
                f"{base}/webhooks/acs?code={SECRET}",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text

        with ThreadPoolExecutor(concurrency) as senders:
            for label in ("first delivery", "redelivery"):
                began = time.perf_counter()
                list(senders.map(post, bodies))
                timings[label] = time.perf_counter() - began
    finally:
        api.terminate()
        api.wait(timeout=30)
    return timings


def measure(reports: int, batch: int, concurrency: int) -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "webhook_intake", "reports": reports, "batch": batch}
    for mode in ("api_process", "in_process"):
        with seeded(reports, batch) as (url, database, bodies):
            if mode == "api_process":
                timings = api_process(url, bodies, concurrency)
            else:
                timings = in_process(url, database, bodies)
            result[mode] = {
                "matched": matched(database),
                "reports_per_second": round(reports / timings["first delivery"]),
                "redeliveries_per_second": round(reports / timings["redelivery"]),
            }
    result["api_process"]["concurrency"] = concurrency
    result["meets_target"] = result["api_process"]["reports_per_second"] >= 3000
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.reports, args.batch, args.concurrency)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
