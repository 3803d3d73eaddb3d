"""What one Prometheus scrape of /metrics costs as the send ledger grows.

/metrics reads its figures from the store at every scrape (GROUP BYs over the ledger, the
health window per domain), so its time grows with the ledger. This seeds a fresh PostgreSQL
schema with a started campaign of N recipients (one domain) and times scrapes in process,
against the baseline of a plain authenticated API read in the same run.

    python benchmarks/metrics_scrape.py [--rows 300000] [--scrapes 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

POSTGRES = os.environ.get(
    "WARMUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def measure(rows: int, scrapes: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from harness.pipeline_world import seed_campaign
    from warmup.api.app import create_app
    from warmup.settings import Settings
    from warmup.store.database import Database
    from warmup.tokens import Role, TokenStore

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(POSTGRES)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'create schema "{schema}"'))
    try:
        url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
        database = Database.connect(url)
        started = time.perf_counter()
        seed_campaign(database, Path(tempfile.mkdtemp()), recipients=rows)
        seeded = time.perf_counter() - started
        token, _ = TokenStore(database).create("bench", Role.OPS, actor="bench", at=_now())
        headers = {"Authorization": f"Bearer {token}"}
        scrape: list[float] = []
        read: list[float] = []
        with TestClient(
            create_app(Settings(database_url=SecretStr(url)), database), client=("127.0.0.1", 50000)
        ) as client:
            for _ in range(scrapes):
                began = time.perf_counter()
                assert client.get("/metrics").status_code == 200
                scrape.append(time.perf_counter() - began)
                began = time.perf_counter()
                assert client.get("/api/whoami", headers=headers).status_code == 200
                read.append(time.perf_counter() - began)
        database.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
    return {
        "benchmark": "metrics_scrape",
        "ledger_rows": rows,
        "seed_seconds": round(seeded, 1),
        "scrape_seconds_median": round(statistics.median(scrape), 3),
        "scrape_seconds_max": round(max(scrape), 3),
        "api_read_seconds_median": round(statistics.median(read), 4),
    }


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--scrapes", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.rows, args.scrapes)
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"/metrics over a {result['ledger_rows']:,}-row ledger (PostgreSQL): "
        f"median {result['scrape_seconds_median']} s, max {result['scrape_seconds_max']} s "
        f"per scrape; an authenticated API read: {result['api_read_seconds_median']} s "
        f"(seeding took {result['seed_seconds']} s)"
    )


if __name__ == "__main__":  # the importer's worker processes re-import this module
    main()
