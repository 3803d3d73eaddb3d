"""How many messages a second one `warmup relay` process takes (stored with their ledger rows,
on PostgreSQL, before each 250).

    python benchmarks/relay_intake.py [--seconds 20] [--clients 10] [--json]

The relay runs as a process of its own (one event loop: one core); the clients are aiosmtplib
connections in this process, each authenticated once and sending one message after another
(one recipient, a 2 KB text body), as an app's mail queue does. Figures: 250s a second seen by
the clients, and the rows found in the ledger afterwards (they must match).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.pipeline_world import DOMAIN, SENDER, add_domain
from harness.relay_world import RelayProcess
from harness.services import postgres_schema
from warmup.store.database import Database
from warmup.store.models import LedgerRow
from warmup.wiring import Stores

BODY = "Your scan is ready.\n" + "x" * 2000


def _template() -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = SENDER, "{to}", "Your scan"
    message.set_content(BODY)
    return message.as_bytes()


TEMPLATE = _template()


async def clients(port: int, ca: bytes, password: str, seconds: float, count: int) -> int:
    context = ssl.create_default_context(cadata=ca.decode())
    deadline = time.monotonic() + seconds
    taken = 0

    async def client(index: int) -> None:
        nonlocal taken
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True, tls_context=context)
        await smtp.connect()
        await smtp.login("bench-app", password)
        n = 0
        while time.monotonic() < deadline:
            # The load generator shares the machine: its messages are made cheaply, as bytes.
            to = f"user{index}-{n}@example.org"
            await smtp.sendmail(SENDER, [to], TEMPLATE.replace(b"{to}", to.encode()))
            taken += 1
            n += 1
        await smtp.quit()

    await asyncio.gather(*(client(i) for i in range(count)))
    return taken


def intake(seconds: float, count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, postgres_schema() as url:
        database = Database.connect(url, migrate=True)
        add_domain(database)
        password = Stores(database).relay_users.add(
            "bench-app", DOMAIN, actor="bench", at=datetime.now(UTC)
        )
        process = RelayProcess(url, Path(tmp))
        relay = process.start()
        try:
            asyncio.run(clients(relay.port, relay.ca_pem, password, 2.0, count))  # warm up
            with database.session() as session:
                before = session.scalar(select(func.count()).select_from(LedgerRow)) or 0
            started = time.monotonic()
            taken = asyncio.run(clients(relay.port, relay.ca_pem, password, seconds, count))
            elapsed = time.monotonic() - started
            with database.session() as session:
                after = session.scalar(select(func.count()).select_from(LedgerRow)) or 0
        finally:
            process.kill()
            database.dispose()
    rate = taken / elapsed
    return {
        "benchmark": "relay_intake",
        "clients": count,
        "seconds": round(elapsed, 1),
        "messages": taken,
        "rows_stored": after - before,
        "messages_per_second": round(rate, 1),
        "meets_target": rate >= 500 and after - before == taken,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = intake(args.seconds, args.clients)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
