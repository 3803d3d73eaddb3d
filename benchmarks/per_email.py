"""What one email costs the stores: PostgreSQL statements and row writes, Redis commands.

For sizing a deployment (README, "Sizing for 2 million an hour"): a campaign of N recipients
on a fresh PostgreSQL schema is sent to the emulator by the real runtime (dispatcher ticks,
batches, housekeeping), then a delivery report per email goes through the webhook intake's
store. The figures are differences of the stores' own counters (``pg_stat_user_tables``,
Redis ``INFO commandstats``) over the run, divided by the emails sent; statements are counted
on the runtime's engine. The Redis on 127.0.0.1:6379 must be otherwise idle during the run.

    python benchmarks/per_email.py [--emails 3000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROW_WRITES = """
SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)
FROM pg_stat_user_tables WHERE schemaname = current_schema()
"""


def redis_commands(client: Any) -> int:
    stats = client.info("commandstats")
    return sum(int(entry["calls"]) for name, entry in stats.items() if name != "cmdstat_info")


def row_writes(database: Any) -> int:
    import sqlalchemy

    with database.engine.connect() as connection:
        # Statistics reach the view when a backend reports them: ask for a fresh snapshot.
        connection.execute(sqlalchemy.text("SELECT pg_stat_clear_snapshot()"))
        return int(connection.scalar(sqlalchemy.text(ROW_WRITES)) or 0)


def measure(emails: int) -> dict[str, Any]:
    import redis
    from sqlalchemy import select

    from harness.hot_queries import captured
    from harness.pipeline_world import world
    from harness.services import postgres_schema
    from warmup.control.health import Outcome
    from warmup.feedback.intake import FeedbackStore
    from warmup.feedback.reports import DeliveryReport
    from warmup.settings import Settings
    from warmup.store.models import LedgerRow

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    with (
        postgres_schema() as url,
        world(
            url,
            Path(tempfile.mkdtemp()),
            recipients=emails,
            # Batches as a deployment has them, not the tests' small ones.
            settings_overrides={"batch_size": Settings.model_fields["batch_size"].default},
        ) as w,
    ):
        time.sleep(1)  # the seeding's statistics reach pg_stat_user_tables
        writes_before, commands_before = row_writes(w.database), redis_commands(client)
        began = time.perf_counter()
        with captured(w.runtime.database.engine) as statements:
            w.run_until_done(workers=2, timeout=600)
            with w.database.session() as session:
                sent = session.execute(
                    select(LedgerRow.message_id, LedgerRow.address).where(
                        LedgerRow.message_id.is_not(None)
                    )
                ).all()
            intake = FeedbackStore(w.runtime.database)
            reports = [
                DeliveryReport(str(uuid.uuid4()), message_id, address, "Delivered",
                               Outcome.DELIVERED, "", datetime.now(UTC))
                for message_id, address in sent
            ]  # fmt: skip
            for start in range(0, len(reports), 100):  # Event Grid batches of 100
                intake.ingest(reports[start : start + 100], datetime.now(UTC))
        seconds = time.perf_counter() - began
        time.sleep(1)
        writes = row_writes(w.database) - writes_before
        commands = redis_commands(client) - commands_before
        accepted = int(w.emulator.stats()["accepted"])
    return {
        "benchmark": "per_email",
        "emails": accepted,
        "seconds": round(seconds, 1),
        "postgres_statements_per_email": round(len(statements) / accepted, 3),
        "postgres_row_writes_per_email": round(writes / accepted, 2),
        "redis_commands_per_email": round(commands / accepted, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emails", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.emails)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
