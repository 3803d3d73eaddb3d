"""Sending over SMTP through the whole pipeline, against a raw aiosmtplib loop in the same run.

    python benchmarks/smtp_throughput.py [--seconds 60] [--latency-ms 100] [--json]

Both talk to the same `warmup emulator` process's SMTP listener (STARTTLS, AUTH LOGIN, the
latency applied to each message's DATA), with the same number of connections: the pipeline's
2 send processes x WARMUP_SMTP_CONNECTIONS, and as many for the raw loop, each connection
authenticated once and reused, as the pipeline's pool does. Figures come from the ledger
(accepted rows) and the emulator (duplicates).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import SENDER, accepted_rows, deployment, plan_yaml

from harness.deployment import free_port
from warmup.control.allowance import AcsQuota
from warmup.sending.transport import Transport

USER, PASSWORD = "bench-smtp-user", "bench-smtp-secret"
SEND_PROCESSES = 2
CONNECTIONS = 16  # per process (WARMUP_SMTP_CONNECTIONS)


async def raw_smtp_sends(port: int, ca_file: Path, seconds: float, connections: int) -> int:
    """Messages accepted in ``seconds`` over ``connections`` authenticated connections."""
    context = ssl.create_default_context(cafile=str(ca_file))
    deadline = time.monotonic() + seconds
    sent = 0

    async def connection() -> None:
        nonlocal sent
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=True, tls_context=context
        )
        await client.connect()
        await client.ehlo()
        await client.auth_login(USER, PASSWORD)
        while time.monotonic() < deadline:
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = SENDER, "raw@example.org", "hi"
            message.set_content("hello")
            await client.send_message(message)
            sent += 1
        await client.quit()

    await asyncio.gather(*(connection() for _ in range(connections)))
    return sent


def throughput(seconds: float, latency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        smtp_port, ca_file = free_port(), folder / "emulator-ca.pem"
        with deployment(
            folder,
            recipients=int(seconds * 600) + 20_000,
            plan=plan_yaml(1_000_000, 4_000_000),  # too high to bind
            quota=AcsQuota(10_000_000, 100_000_000),
            emulator_args=[
                "--latency-ms",
                str(latency),
                "--smtp-port",
                str(smtp_port),
                "--smtp-user",
                f"{USER}:{PASSWORD}",
                "--ca-file",
                str(ca_file),
            ],
            send_processes=SEND_PROCESSES,
            transport=Transport.SMTP,
            env={
                "WARMUP_SMTP_HOST": "127.0.0.1",
                "WARMUP_SMTP_PORT": str(smtp_port),
                "WARMUP_SMTP_USERNAME": USER,
                "WARMUP_SMTP_PASSWORD": PASSWORD,
                "WARMUP_SMTP_CA_FILE": str(ca_file),
                "WARMUP_SMTP_CONNECTIONS": str(CONNECTIONS),
            },
        ) as (database, emulator, _celery):
            with database.engine.begin() as connection:
                connection.execute(sqlalchemy.text("update campaigns set status = 'paused'"))
            raw_started = time.monotonic()
            raw = asyncio.run(
                raw_smtp_sends(smtp_port, ca_file, seconds, SEND_PROCESSES * CONNECTIONS)
            )
            raw_rate = raw / (time.monotonic() - raw_started)
            emulator.reset()
            with database.engine.begin() as connection:
                connection.execute(sqlalchemy.text("update campaigns set status = 'running'"))
            time.sleep(5)  # warm up: connections authenticated, the queue is full
            start_rows, start = accepted_rows(database), time.monotonic()
            time.sleep(seconds)
            rows, elapsed = accepted_rows(database) - start_rows, time.monotonic() - start
            stats = emulator.stats()
    rate = rows / elapsed
    return {
        "benchmark": "smtp_throughput",
        "latency_ms": latency,
        "connections": SEND_PROCESSES * CONNECTIONS,
        "seconds": round(elapsed, 1),
        "pipeline_per_second": round(rate, 1),
        "raw_aiosmtplib_per_second": round(raw_rate, 1),
        "ratio_to_raw": round(rate / raw_rate, 3),
        "duplicates_at_acs": stats["recipients_accepted_more_than_once"],
        "meets_target": rate / raw_rate >= 0.8 and stats["recipients_accepted_more_than_once"] == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = throughput(args.seconds, args.latency_ms)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
