"""The send path against a big ledger (issue 19): every step should be flat in its size.

Seeds a fresh PostgreSQL schema with 5 domains and 50 running campaigns, then with a history
of ledger rows written straight in SQL (accepted over the last 60 days with their outcomes, 5 %
still pending, 1 % failed), first ``--small`` rows and then up to ``--rows``. At each size it
measures, in this process:

- a ``/metrics`` scrape (FastAPI's test client, the real app), median;
- a dispatcher tick over the 50 campaigns (allowance reads, fence, claims of up to 100 rows
  per domain), p99; the claimed rows are put back after each tick, untimed;
- a claim of 100 rows plus its results (``sending``, then ``accepted``), p99; the rows are
  put back afterwards, untimed;
- every statement of the hot steps (``harness/hot_queries.py``), explained with ANALYZE: its
  time and how it reads ``send_ledger`` (any sequential scan is reported).

    python benchmarks/scale.py [--rows 10000000] [--small 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from warmup.wiring import Stores

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DOMAINS = 5
CAMPAIGNS_PER_DOMAIN = 10
SEED_CHUNK = 1_000_000

# One statement per chunk of history: rows spread over the 50 campaigns and the last 60 days.
SEED = """
INSERT INTO send_ledger (campaign_id, address, provider, rank, state, operation_id, attempts,
                         message_id, accepted_at, outcome, outcome_at, updated_at,
                         relay_message_id)
SELECT c.id,
       'h' || g || '@example.org',
       (ARRAY['gmail', 'microsoft', 'yahoo', 'other'])[1 + g % 4],
       1000000 + g,
       CASE WHEN g % 100 < 5 THEN 'pending' WHEN g % 100 = 5 THEN 'failed' ELSE 'accepted' END,
       gen_random_uuid()::text,
       CASE WHEN g % 100 < 5 THEN 0 ELSE 1 END,
       CASE WHEN g % 100 > 5 THEN 'm' || g END,
       CASE WHEN g % 100 > 5 THEN at END,
       CASE WHEN g % 100 > 7 THEN 'delivered' WHEN g % 100 = 7 THEN 'hard_bounce' END,
       CASE WHEN g % 100 > 6 THEN at + interval '1 minute' END,
       :now,
       0
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g
JOIN LATERAL (SELECT CAST(:now AS timestamptz) - (g % 86400) * interval '1 minute' AS at) AS t
  ON true
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM campaigns) AS c
  ON c.n = g % :campaigns
"""


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class Scale:
    def __init__(self, url: str) -> None:
        import redis
        from pydantic import SecretStr

        from warmup.pipeline.runtime import Runtime
        from warmup.ratelimit.redis_limiter import RedisLimiter
        from warmup.settings import Settings
        from warmup.store.database import Database

        self.url = url
        self.database = Database.connect(url)
        self.prefix = f"bench:{uuid.uuid4().hex}:"
        self.redis = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        self.settings = Settings(
            database_url=SecretStr(url),
            redis_url=SecretStr("redis://127.0.0.1:6379/0"),
            acs_connection_string=SecretStr("endpoint=http://127.0.0.1:9/;accesskey=" + "a" * 44),
            unsubscribe_secret=SecretStr("scale-benchmark-secret"),
            batch_size=100,
            max_claim_per_tick=100,
        )
        self.now = datetime.now(UTC)
        self.runtime = Runtime(self.settings, limiter=RedisLimiter(self.redis, self.prefix))
        self.seeded = 0

    def close(self) -> None:
        self.runtime.close()
        for key in self.redis.scan_iter(f"{self.prefix}*"):
            self.redis.delete(key)
        self.database.dispose()

    def setup(self) -> None:
        from harness.pipeline_world import UNBOUNDED, people_list
        from warmup.content.templates import MessageTemplate
        from warmup.control.caps import AcsQuota
        from warmup.domains.store import DomainStore
        from warmup.plans.loader import parse_plan

        people_list(
            self.database,
            Path(tempfile.mkdtemp()),
            (f"p{i}@example.org,P{i}" for i in range(50)),
            at=self.now,
        )
        campaigns = Stores(self.database).campaigns
        for d in range(DOMAINS):
            domain = f"d{d}.example.com"
            DomainStore(self.database).create(
                domain, parse_plan(UNBOUNDED), UNBOUNDED, quota=AcsQuota(),
                senders=[f"news@{domain}"], actor="bench", at=self.now - timedelta(days=61),
            )  # fmt: skip
            for c in range(CAMPAIGNS_PER_DOMAIN):
                name = f"c{d}-{c}"
                campaigns.create(
                    name, list_name="people", sender=f"news@{domain}", actor="bench", at=self.now,
                    template=MessageTemplate("Hi", None, "Hello {{ name }}"),
                )  # fmt: skip
                campaigns.start(name, actor="bench", at=self.now)

    def seed_to(self, rows: int) -> float:
        import sqlalchemy

        began = time.perf_counter()
        while self.seeded < rows:
            last = min(rows, self.seeded + SEED_CHUNK)
            with self.database.engine.begin() as connection:
                connection.execute(
                    sqlalchemy.text(SEED),
                    {
                        "first": self.seeded + 1,
                        "last": last,
                        "now": self.now,
                        "campaigns": DOMAINS * CAMPAIGNS_PER_DOMAIN,
                    },
                )
            self.seeded = last
        self.runtime.ledger.fold_counters()
        # What autovacuum does in a running deployment: dead deltas gone, statistics fresh.
        with self.database.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as connection:
            connection.execute(
                sqlalchemy.text(
                    "VACUUM ANALYZE send_ledger, campaigns, ledger_counts, ledger_count_deltas, "
                    "domain_sends, domain_send_deltas, domain_outcomes, domain_outcome_deltas"
                )
            )
        return time.perf_counter() - began

    def put_back(self, sent: list[int] | None = None) -> None:
        """Rows claimed (or ``sent``) by a measurement go back to pending (untimed)."""
        import sqlalchemy

        put_back = (
            "UPDATE send_ledger SET state = 'pending', lease_owner = NULL, "
            "lease_deadline = NULL, accepted_at = NULL, message_id = NULL "
        )
        with self.database.engine.begin() as connection:
            # Claimed and sending rows hold a lease: read through the (partial) lease index,
            # not the whole ledger, or each put-back would flush the cache the next tick reads.
            connection.execute(
                sqlalchemy.text(
                    put_back
                    + "WHERE state IN ('claimed', 'sending') AND lease_deadline IS NOT NULL"
                )
            )
            if sent:
                connection.execute(
                    sqlalchemy.text(put_back + "WHERE id = ANY(:ids)"), {"ids": sent}
                )

    def measure(self, scrapes: int, ticks: int, batches: int) -> dict[str, Any]:
        from fastapi.testclient import TestClient

        from harness.hot_queries import hot_operations, plans_of
        from warmup.api.app import create_app
        from warmup.ledger.claims import DomainClaim
        from warmup.ledger.states import LedgerState
        from warmup.ledger.store import SendResult

        scrape: list[float] = []
        with TestClient(
            create_app(self.settings, self.database), client=("127.0.0.1", 50000)
        ) as client:
            client.get("/metrics")  # warm: imports, first connections
            for _ in range(scrapes):
                began = time.perf_counter()
                assert client.get("/metrics").status_code == 200
                scrape.append(time.perf_counter() - began)
        tick: list[float] = []
        dispatcher = self.runtime.dispatcher()
        for _ in range(ticks):
            began = time.perf_counter()
            report = dispatcher.tick()
            tick.append(time.perf_counter() - began)
            assert report.claimed, "the tick claimed nothing"
            self.put_back()
        ledger = self.runtime.ledger
        record = self.runtime.domains.all()[0]
        campaign_id = self.runtime.campaigns.get("c0-0").id
        batch: list[float] = []
        for _ in range(batches):
            now = datetime.now(UTC)
            # The plan's day starts on a quarter hour in every time zone.
            day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
            owner = f"scale-{uuid.uuid4()}"
            began = time.perf_counter()
            ids = ledger.claim(
                campaign_id, 100, owner=owner, deadline=now + timedelta(minutes=5), now=now,
                domain=DomainClaim(record.id, fence=None, day_cap=10**12,
                                   day_start=day_start, budgets={}),
            )  # fmt: skip
            ledger.mark_sending(ids, owner, now)
            ledger.record(
                [
                    SendResult(row, LedgerState.ACCEPTED, 1, message_id=f"scale-{row}")
                    for row in ids
                ],
                owner,
                now,
            )
            batch.append(time.perf_counter() - began)
            assert len(ids) == 100
            self.put_back(ids)
        plans = plans_of(self.runtime.database, hot_operations(self.runtime, "c0-0"))
        self.put_back()
        by_operation: dict[str, dict[str, Any]] = {}
        for plan in plans:
            entry = by_operation.setdefault(
                plan.operation, {"statements": 0, "ms": 0.0, "slowest": None, "seq_scans": 0}
            )
            entry["statements"] += 1
            entry["ms"] = round(entry["ms"] + plan.milliseconds, 3)
            entry["seq_scans"] += plan.seq_scans_of_ledger
            if entry["slowest"] is None or plan.milliseconds > entry["slowest"]["ms"]:
                entry["slowest"] = plan.summary()
        return {
            "ledger_rows": self.ledger_rows(),
            "metrics_scrape_ms_median": round(statistics.median(scrape) * 1000, 1),
            "dispatcher_tick_ms_p99": round(p99(tick) * 1000, 1),
            "dispatcher_tick_ms_median": round(statistics.median(tick) * 1000, 1),
            "claim_and_results_100_rows_ms_p99": round(p99(batch) * 1000, 1),
            "claim_and_results_100_rows_ms_median": round(statistics.median(batch) * 1000, 1),
            "explained": by_operation,
        }

    def ledger_rows(self) -> int:
        from warmup.ledger import counts

        return sum(row.rows for row in counts.by_domain_and_state(self.database))


def run(rows: int, small: int, scrapes: int, ticks: int, batches: int) -> dict[str, Any]:
    from harness.services import postgres_schema

    with postgres_schema() as url:
        scale = Scale(url)
        try:
            scale.setup()
            results: dict[str, Any] = {"benchmark": "scale", "sizes": []}
            for size in (small, rows):
                seconds = scale.seed_to(size)
                measured = scale.measure(scrapes, ticks, batches)
                measured["seed_seconds"] = round(seconds, 1)
                results["sizes"].append(measured)
                print(f"measured at {measured['ledger_rows']:,} rows", file=sys.stderr)
            big, little = results["sizes"][-1], results["sizes"][0]
            results["tick_p99_ratio_big_to_small"] = round(
                big["dispatcher_tick_ms_p99"] / little["dispatcher_tick_ms_p99"], 2
            )
            results["scrape_ratio_big_to_small"] = round(
                big["metrics_scrape_ms_median"] / little["metrics_scrape_ms_median"], 2
            )
            return results
        finally:
            scale.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = run(args.rows, args.small, args.scrapes, args.ticks, args.batches)
    if args.json:
        print(json.dumps(result))
        return
    for size in result["sizes"]:
        print(
            f"{size['ledger_rows']:>12,} rows: /metrics {size['metrics_scrape_ms_median']} ms "
            f"(median), tick {size['dispatcher_tick_ms_p99']} ms (p99), claim + results of "
            f"100 rows {size['claim_and_results_100_rows_ms_p99']} ms (p99); seeded in "
            f"{size['seed_seconds']} s"
        )
        for operation, entry in size["explained"].items():
            print(
                f"    {operation}: {entry['statements']} statements, {entry['ms']} ms, "
                f"sequential scans of the ledger: {entry['seq_scans']}; slowest: "
                f"{entry['slowest']['ms']} ms {entry['slowest']['ledger_access']}"
            )
    print(
        f"big/small: tick p99 ×{result['tick_p99_ratio_big_to_small']}, "
        f"scrape ×{result['scrape_ratio_big_to_small']}"
    )


if __name__ == "__main__":
    main()
