"""The hot statements of the send path, captured from the code that runs them, and their
PostgreSQL plans: shared by the test that keeps every one of them off a sequential scan of the
ledger and by ``benchmarks/scale.py``, which times them at 10 million rows.

A statement is captured as the driver received it (SQL and parameters), then explained with
``EXPLAIN (ANALYZE, FORMAT JSON)`` inside a transaction that is rolled back, so writes are
planned and timed for real without changing anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, event

from warmup.control.health import Outcome
from warmup.feedback.domain_health import window_verdict
from warmup.feedback.intake import FeedbackStore
from warmup.feedback.overview import overview
from warmup.feedback.reports import DeliveryReport
from warmup.ledger import counts
from warmup.ledger.fill import suppress_pending
from warmup.ledger.outcomes import DoubtfulRows, OutcomeFallback
from warmup.ledger.states import LedgerState
from warmup.ledger.store import LedgerStore, SendResult
from warmup.pipeline.runtime import Runtime
from warmup.store.database import Database
from warmup.views.campaigns import campaign_view
from warmup.wiring import Stores

PLANNED = ("SELECT", "UPDATE", "WITH", "DELETE", "INSERT")
# A partial index read from end to end holds only the rows its condition picks: that is its use.
PARTIAL_INDEXES = """
SELECT c.relname FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = 'send_ledger'::regclass AND i.indpred IS NOT NULL
"""


@dataclass(frozen=True)
class Statement:
    sql: str
    parameters: Any


@dataclass
class Plan:
    operation: str  # which hot path ran it
    sql: str
    milliseconds: float
    ledger_scans: list[str] = field(default_factory=list)  # how send_ledger was read
    index_conditions: list[str] = field(default_factory=list)  # what bounded its index reads
    # Reads of all of send_ledger: sequential scans, and index scans with no condition on a
    # full (not partial) index, which read every entry as surely.
    seq_scans_of_ledger: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "sql": " ".join(self.sql.split())[:160],
            "ms": round(self.milliseconds, 3),
            "ledger_access": sorted(set(self.ledger_scans)),
            "seq_scans_of_ledger": self.seq_scans_of_ledger,
        }


@contextmanager
def captured(engine: Engine) -> Iterator[list[Statement]]:
    found: list[Statement] = []

    def grab(
        _conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if sql.lstrip().upper().startswith(PLANNED) and not sql.lstrip().upper().startswith(
            "SELECT PG_TRY_ADVISORY"
        ):
            # An executemany's first row (insertmanyvalues hands one dict for all the rows).
            first = many and isinstance(parameters, list | tuple) and parameters
            found.append(Statement(sql, parameters[0] if first else parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def explain(
    database: Database, operation: str, statement: Statement, *, no_seqscan: bool = False
) -> Plan:
    """The statement's plan and time, run and rolled back. ``no_seqscan``: forbid sequential
    scans where any other way exists, so a table too small to bother with an index (a test's)
    still shows whether an index can serve the statement."""
    with database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            if no_seqscan:
                cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement.sql, statement.parameters)
            (document,) = cursor.fetchone()
            cursor.execute(PARTIAL_INDEXES)
            partial = {name for (name,) in cursor.fetchall()}
        finally:
            transaction.rollback()
    top = document[0]
    plan = Plan(operation, statement.sql, float(top["Execution Time"]))
    for node in _walk(top["Plan"]):
        if node.get("Relation Name") == "send_ledger":
            how = node["Node Type"] + (f" {node['Index Name']}" if "Index Name" in node else "")
            plan.ledger_scans.append(how)
            if "Index Cond" in node:
                plan.index_conditions.append(node["Index Cond"])
            whole_index = (
                node["Node Type"] in ("Index Scan", "Index Only Scan")
                and "Index Cond" not in node
                and node["Index Name"] not in partial
            )
            if node["Node Type"] == "Seq Scan" or whole_index:
                plan.seq_scans_of_ledger += 1
    return plan


def plans_of(
    database: Database,
    operations: dict[str, Callable[[], object]],
    *,
    no_seqscan: bool = False,
) -> list[Plan]:
    """Run each hot operation once, capturing its statements, then explain each statement."""
    found: list[Plan] = []
    for name, run in operations.items():
        with captured(database.engine) as statements:
            run()
        found += [
            explain(database, name, statement, no_seqscan=no_seqscan) for statement in statements
        ]
    return found


def hot_operations(runtime: Runtime, campaign: str) -> dict[str, Any]:
    """The send path's steps, each a callable, in the order they depend on one another: a
    dispatcher tick claims, its first batch's results are written, their delivery reports
    come in; then the reads (housekeeping's lease scan, the health window, a scrape, a
    campaign's status)."""
    database = runtime.database  # the runtime's own engine: capture on it
    ledger = LedgerStore(database)
    clock = runtime.clock
    held: dict[str, Any] = {}

    def tick() -> None:
        held["batches"] = runtime.dispatcher().tick().batches
        assert held["batches"], "the tick claimed nothing: nothing pending?"

    def results() -> None:
        batch = held["batches"][0]
        now = clock.now()
        # What a batch reads of its rows first (their addresses, for the reports below).
        held["addresses"] = {item.id: item.address for item in ledger.work(batch.row_ids, batch.id)}
        ledger.mark_sending(batch.row_ids, batch.id, now)
        ids = {row: f"hot-{uuid.uuid4()}" for row in batch.row_ids}
        ledger.record(
            [SendResult(row, LedgerState.ACCEPTED, 1, message_id=m) for row, m in ids.items()],
            batch.id,
            now,
        )
        held["sent"] = ids

    def reports() -> None:
        addresses = held["addresses"]
        FeedbackStore(database).ingest(
            [
                DeliveryReport(
                    event_id=str(uuid.uuid4()),
                    message_id=message_id,
                    recipient=addresses[row],
                    status="Delivered",
                    outcome=Outcome.DELIVERED,
                    detail="",
                    attempted_at=clock.now(),
                )
                for row, message_id in held["sent"].items()
            ],
            clock.now(),
        )

    def unsubscribe(address: str) -> None:
        with database.session() as session:
            suppress_pending(session, address, reason="unsubscribed", at=clock.now())

    def scrape() -> None:
        for record in runtime.domains.all():
            overview(database, LedgerStore(database), record, clock.now())
        counts.by_domain_and_state(database)
        counts.outcomes_by_domain(database)

    return {
        "dispatcher tick (allowance reads, fence, claim)": tick,
        "batch results (sending, then accepted)": results,
        "feedback match (delivery reports)": reports,
        "housekeeping lease scan": lambda: ledger.expire_leases(clock.now()),
        "housekeeping status-poll sample": lambda: OutcomeFallback(database).sample(
            accepted_before=clock.now(), checked_before=clock.now(), limit=20
        ),
        "housekeeping rows in doubt (status GETs)": lambda: DoubtfulRows(database).waiting(20),
        "limiter restore (rows posted in the last hour)": lambda: [
            ledger.posted_since(record.id, clock.now() - timedelta(hours=1))
            for record in runtime.domains.all()
        ],
        "unsubscribe (the address's unclaimed rows)": lambda: unsubscribe("nobody@example.org"),
        "health window": lambda: [
            window_verdict(database, record, clock.now()) for record in runtime.domains.all()
        ],
        "/metrics figures": scrape,
        "campaign status": lambda: campaign_view(Stores(database), campaign, clock.now()),
    }
