"""How fast a campaign's start fills its send ledger (issue 19: at least 100,000 rows/s).

Imports a generated list of N recipients into a fresh PostgreSQL schema (the import is not
timed), creates a campaign and times its start: what ``POST …/start`` does before it answers
202 (``begin_start``), then the background fill, one ``INSERT … SELECT`` per chunk (ranked by
engagement, suppressed addresses marked, an Operation-Id each), until the campaign runs. The
baseline, in the same run, ranks the same rows and copies them into an unlogged table with no
indexes: what the database itself needs to do for it.

    python benchmarks/campaign_start.py [--rows 1000000] [--chunk-rows N] [--json]

--chunk-rows defaults to the shipped WARMUP_FILL_CHUNK_ROWS.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy

from warmup.domains.store import DomainStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(rows: int, chunk_rows: int) -> dict[str, Any]:
    from harness.pipeline_world import DOMAIN, SENDER, UNBOUNDED
    from harness.services import postgres_schema
    from warmup.campaigns.store import CampaignStore
    from warmup.content.templates import MessageTemplate
    from warmup.control.caps import AcsQuota
    from warmup.lists.importer import ImportOptions, ListImporter
    from warmup.plans.loader import parse_plan
    from warmup.store.database import Database

    # A fresh schema, migrated, dropped afterwards: the tests' own.
    with postgres_schema() as url:
        database = Database.connect(url)
        now = datetime.now(UTC)
        DomainStore(database).create(
            DOMAIN, parse_plan(UNBOUNDED), UNBOUNDED, quota=AcsQuota(), senders=[SENDER],
            actor="bench", at=now,
        )  # fmt: skip
        folder = Path(tempfile.mkdtemp())
        people = folder / "people.csv"
        with people.open("w") as out:
            out.write("email,name,score\n")
            out.writelines(f"r{i}@example.org,R{i},{i % 100}\n" for i in range(rows))
        ListImporter(database).run(
            people, "people", options=ImportOptions(), rejected_path=folder / "r.csv",
            actor="bench", at=now,
        )  # fmt: skip
        store = CampaignStore(database, domains=DomainStore(database), fill_chunk_rows=chunk_rows)
        store.create(
            "c", list_name="people", sender=SENDER, actor="bench", at=now,
            template=MessageTemplate("Hi {{ name }}", None, "Hello {{ name }}"),
        )  # fmt: skip
        # What the request does (checks, the status change, the list's size), then the
        # background fill in chunks, until the campaign runs.
        began = time.perf_counter()
        store.begin_start("c", actor="bench", at=now)
        request_seconds = time.perf_counter() - began
        filled = store.fill("c", lambda: datetime.now(UTC)).done
        start_seconds = time.perf_counter() - began
        assert store.get("c").status == "running"
        with database.engine.begin() as connection:
            began = time.perf_counter()
            connection.execute(
                sqlalchemy.text(
                    "create unlogged table copy_baseline as "
                    "select id, address, provider, gen_random_uuid()::text as operation_id, "
                    "row_number() over (order by engagement desc nulls last, "
                    "last_engaged_at desc nulls last, id) as rank from recipients"
                )
            )
            baseline_seconds = time.perf_counter() - began
        database.dispose()
    return {
        "benchmark": "campaign_start",
        "rows": filled,
        "request_seconds": round(request_seconds, 3),
        "fill_chunk_rows": chunk_rows,
        "start_seconds": round(start_seconds, 2),
        "rows_per_second": round(filled / start_seconds),
        "baseline_copy_rows_per_second": round(rows / baseline_seconds),
        "ratio_to_baseline": round(baseline_seconds / start_seconds, 3),
        "meets_target": filled / start_seconds >= 100_000 and request_seconds < 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    from warmup.settings import FILL_CHUNK_ROWS

    parser.add_argument("--chunk-rows", type=int, default=FILL_CHUNK_ROWS)  # the shipped one
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.rows, args.chunk_rows)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
