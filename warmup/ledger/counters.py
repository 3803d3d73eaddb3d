"""The send ledger's counters: rows per campaign, state and outcome, and sends per domain and
quarter hour, read without aggregating the ledger.

Database triggers keep them (migration 0016), so every write to ``send_ledger`` counts, whoever
makes it; nothing here has to be called for them to be right. On PostgreSQL the triggers append
deltas, which :func:`fold` moves into the totals (the dispatcher does it each tick); a read adds
the totals and the deltas not yet folded, so it is exact at any moment. :func:`mismatches`
proves it against the ledger (``warmup db check-counters``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Select,
    cast,
    func,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from warmup.store.database import Database
from warmup.store.models import (
    Campaign,
    DomainSends,
    DomainSendsDelta,
    LedgerCount,
    LedgerCountDelta,
    LedgerRow,
)

# A quarter hour, fixed by migration 0016's triggers. Every time zone's midnight falls on one,
# so a plan's day is a whole number of buckets.
BUCKET_SECONDS = 900
# Deltas moved per statement, so a fold after a long pause does not hold one huge transaction.
FOLD_BATCH = 50_000
# pg_try_advisory_xact_lock key: one fold at a time (the others have nothing to do anyway).
FOLD_LOCK = 0x57A3_C0DE

Bind = Session | Connection


@dataclass(frozen=True)
class Count:
    campaign_id: int
    state: str
    outcome: str | None  # None: no delivery outcome yet
    rows: int
    attempts: int  # calls made to ACS for these rows


def counts(bind: Bind, campaigns: Select[int] | Iterable[int] | None = None) -> list[Count]:
    """The counters of the given campaigns (ids, or a query of ids; None: every campaign)."""

    def part(
        table: type[LedgerCount] | type[LedgerCountDelta],
    ) -> Select[int, str, str, int, int]:
        query = select(
            table.campaign_id, table.state, table.outcome, table.row_count, table.attempts
        )
        if campaigns is not None:
            ids = campaigns if isinstance(campaigns, Select) else list(campaigns)
            query = query.where(table.campaign_id.in_(ids))
        return query

    both = union_all(part(LedgerCount), part(LedgerCountDelta)).subquery()
    query = select(
        both.c.campaign_id,
        both.c.state,
        both.c.outcome,
        func.sum(both.c.row_count),
        func.sum(both.c.attempts),
    ).group_by(both.c.campaign_id, both.c.state, both.c.outcome)
    return [
        Count(int(campaign), str(state), str(outcome) or None, int(rows), int(attempts))
        for campaign, state, outcome, rows, attempts in bind.execute(query)
        if rows or attempts
    ]


def of_domain(domain_id: int) -> Select[int]:
    """The ids of a domain's campaigns, for :func:`counts`."""
    return select(Campaign.id).where(Campaign.domain_id == domain_id)


def rows_in(bind: Bind, campaigns: Select[int] | Iterable[int], states: Iterable[str]) -> int:
    wanted = set(states)
    return sum(count.rows for count in counts(bind, campaigns) if count.state in wanted)


def aligned(moment: datetime) -> bool:
    return int(moment.timestamp()) % BUCKET_SECONDS == 0 and moment.microsecond == 0


def accepted(bind: Bind, domain_id: int, since: datetime, until: datetime | None = None) -> int:
    """Sends of the domain ACS accepted in [since, until). Both ends must fall on a quarter
    hour (a day's bounds in any time zone do); other windows read the ledger's index."""
    if not aligned(since) or (until is not None and not aligned(until)):
        raise ValueError(f"{since}–{until}: the send counters hold quarter hours")

    def part(table: type[DomainSends] | type[DomainSendsDelta]) -> Select[int]:
        query = select(table.accepted).where(
            table.domain_id == domain_id, table.bucket >= int(since.timestamp())
        )
        if until is not None:
            query = query.where(table.bucket < int(until.timestamp()))
        return query

    both = union_all(part(DomainSends), part(DomainSendsDelta)).subquery()
    return int(bind.scalar(select(func.coalesce(func.sum(both.c.accepted), 0))) or 0)


def accepted_since(
    bind: Bind, domain_id: int, since: datetime, until: datetime | None = None
) -> int:
    """Sends of the domain ACS accepted in [since, until): from the quarter-hour counters
    when both ends fall on a quarter hour (a day's bounds in any time zone do), else from the
    ledger's ``accepted_at`` index (a window of arbitrary ends, bounded by time)."""
    if aligned(since) and (until is None or aligned(until)):
        return accepted(bind, domain_id, since, until)
    query = (
        select(func.count())
        .select_from(LedgerRow)
        .join(Campaign, Campaign.id == LedgerRow.campaign_id)
        .where(Campaign.domain_id == domain_id, LedgerRow.accepted_at >= since)
    )
    if until is not None:
        query = query.where(LedgerRow.accepted_at < until)
    return int(bind.scalar(query) or 0)


def fold(connection: Connection) -> int:
    """Move the deltas the triggers appended into the totals (PostgreSQL; on SQLite the
    triggers write the totals). Return how many deltas moved; 0 if another fold is running."""
    if connection.dialect.name != "postgresql":
        return 0
    if not connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK}):
        return 0
    moved = 0
    for statement in (_FOLD_COUNTS, _FOLD_SENDS):
        while True:
            done = int(connection.scalar(statement, {"batch": FOLD_BATCH}) or 0)
            moved += done
            if done < FOLD_BATCH:
                break
    return moved


# The deltas are deleted and added to the totals in one statement, so none is lost or counted
# twice, whatever else runs. Rows are upserted in key order: two folds never deadlock.
_FOLD_COUNTS = text(
    """
WITH moved AS (
  DELETE FROM ledger_count_deltas WHERE id IN (
    SELECT id FROM ledger_count_deltas ORDER BY id LIMIT :batch)
  RETURNING campaign_id, state, outcome, row_count, attempts
), added AS (
  INSERT INTO ledger_counts (campaign_id, state, outcome, row_count, attempts)
  SELECT campaign_id, state, outcome, sum(row_count), sum(attempts) FROM moved
  GROUP BY campaign_id, state, outcome ORDER BY campaign_id, state, outcome
  ON CONFLICT (campaign_id, state, outcome) DO UPDATE
  SET row_count = ledger_counts.row_count + excluded.row_count,
      attempts = ledger_counts.attempts + excluded.attempts
)
SELECT count(*) FROM moved
"""
)
_FOLD_SENDS = text(
    """
WITH moved AS (
  DELETE FROM domain_send_deltas WHERE id IN (
    SELECT id FROM domain_send_deltas ORDER BY id LIMIT :batch)
  RETURNING domain_id, bucket, accepted
), added AS (
  INSERT INTO domain_sends (domain_id, bucket, accepted)
  SELECT domain_id, bucket, sum(accepted) FROM moved
  GROUP BY domain_id, bucket ORDER BY domain_id, bucket
  ON CONFLICT (domain_id, bucket) DO UPDATE
  SET accepted = domain_sends.accepted + excluded.accepted
)
SELECT count(*) FROM moved
"""
)


@dataclass(frozen=True)
class Mismatch:
    what: str  # "campaign 3 accepted/delivered", "domain 1 2026-11-29T10:15:00+00:00"
    counted: int
    in_ledger: int

    def __str__(self) -> str:
        return f"{self.what}: counters say {self.counted:,}, the ledger holds {self.in_ledger:,}"


def mismatches(database: Database) -> list[Mismatch]:
    """Every counter that differs from the ledger (empty: they agree exactly). Reads the
    ledger in full, in one snapshot on PostgreSQL: a check for ops, not for requests."""
    with database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        found: list[Mismatch] = []
        # A literal column, not a parameter: GROUP BY must see the very same expression.
        outcome = func.coalesce(LedgerRow.outcome, literal_column("''"))
        ledger_rows = select(
            LedgerRow.campaign_id,
            LedgerRow.state,
            outcome,
            func.count(),
            func.coalesce(func.sum(LedgerRow.attempts), 0),
        ).group_by(LedgerRow.campaign_id, LedgerRow.state, outcome)
        truth = {
            (int(c), str(s), str(o) or None): (int(n), int(a))
            for c, s, o, n, a in connection.execute(ledger_rows)
        }
        counted = {
            (c.campaign_id, c.state, c.outcome): (c.rows, c.attempts) for c in counts(connection)
        }
        for key in sorted(set(truth) | set(counted), key=str):
            have, want = counted.get(key, (0, 0)), truth.get(key, (0, 0))
            name = f"campaign {key[0]} {key[1]}" + (f"/{key[2]}" if key[2] else "")
            if have[0] != want[0]:
                found.append(Mismatch(f"{name} rows", have[0], want[0]))
            if have[1] != want[1]:
                found.append(Mismatch(f"{name} ACS calls", have[1], want[1]))
        sent_truth = _ledger_sends(connection)
        sent_counted = _counted_sends(connection)
        for domain, bucket in sorted(set(sent_truth) | set(sent_counted)):
            have_sent = sent_counted.get((domain, bucket), 0)
            want_sent = sent_truth.get((domain, bucket), 0)
            if have_sent != want_sent:
                at = datetime.fromtimestamp(bucket, UTC).isoformat()
                found.append(Mismatch(f"domain {domain} sends at {at}", have_sent, want_sent))
        return found


def _ledger_sends(connection: Connection) -> dict[tuple[int, int], int]:
    at = LedgerRow.accepted_at
    # Integer division, as the triggers do it: epoch seconds down to the quarter hour.
    seconds: ColumnElement[Any] = (
        cast(func.floor(func.extract("epoch", at)), BigInteger)
        if connection.dialect.name == "postgresql"
        else cast(func.strftime("%s", at), Integer)
    )
    bucket = seconds // BUCKET_SECONDS * BUCKET_SECONDS
    query = (
        select(Campaign.domain_id, bucket, func.count())
        .join(Campaign, Campaign.id == LedgerRow.campaign_id)
        .where(at.is_not(None))
        .group_by(Campaign.domain_id, bucket)
    )
    return {(int(d), int(b)): int(n) for d, b, n in connection.execute(query)}


def _counted_sends(connection: Connection) -> dict[tuple[int, int], int]:
    both = union_all(
        select(DomainSends.domain_id, DomainSends.bucket, DomainSends.accepted),
        select(DomainSendsDelta.domain_id, DomainSendsDelta.bucket, DomainSendsDelta.accepted),
    ).subquery()
    query = select(both.c.domain_id, both.c.bucket, func.sum(both.c.accepted)).group_by(
        both.c.domain_id, both.c.bucket
    )
    return {(int(d), int(b)): int(n) for d, b, n in connection.execute(query) if n}
