"""The send ledger's counters: rows per campaign, state and outcome, sends per domain and
quarter hour, outcomes per domain, provider group and quarter hour; read without aggregating
the ledger.

Database triggers keep them (migration 0016), so every write to ``send_ledger`` counts, whoever
makes it; nothing here has to be called for them to be right. On PostgreSQL the triggers append
deltas, which :func:`fold` moves into the totals (the dispatcher does it each tick); a read adds
the totals and the deltas not yet folded, so it is exact at any moment. :func:`mismatches`
proves it against the ledger (``warmup db check-counters``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from warmup.ledger.joins import DOMAIN_ID, in_domain, through_campaign, unpruned_campaigns
from warmup.ledger.states import IN_FLIGHT, OPEN, LedgerState
from warmup.store.database import Database
from warmup.store.models import (
    RELAY_KIND,
    RUNNING_STATUS,
    DomainOutcomes,
    DomainOutcomesDelta,
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
Key = TypeVar(
    "Key", tuple[int, int], tuple[int, str], tuple[int, str, str], tuple[int, int, str, str]
)


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
    query = in_domain(select(func.count()).select_from(LedgerRow), domain_id).where(
        LedgerRow.accepted_at >= since
    )
    if until is not None:
        query = query.where(LedgerRow.accepted_at < until)
    return int(bind.scalar(query) or 0)


@dataclass(frozen=True)
class DomainLoad:
    """A domain's counters as a dispatcher tick or a status view needs them, in one read."""

    accepted: int  # sends ACS accepted since the day's start
    in_flight: int  # rows claimed, being sent or in doubt: promised out of the allowance
    # Running campaigns with rows left to send: (campaign id, priority, pending rows).
    demand: tuple[tuple[int, int, int], ...]
    relay_waiting: int = 0  # rows of the relay's transactional stream not yet final
    # Rows claimed by a tick and not yet readied: queued for a worker, or waiting in a started
    # batch for a free slot.
    claimed: int = 0


def domain_load(bind: Bind, domain_id: int, since: datetime) -> DomainLoad:
    """What the domain sent since ``since``, what it has in flight, what its running
    campaigns have left and what its relayed stream has waiting: one round trip when ``since``
    is a quarter hour (a day's start in any time zone), two otherwise (see
    :func:`accepted_since`)."""
    accepted = in_flight = relay_waiting = claimed = 0
    pending: dict[int, tuple[int, int]] = {}
    for campaign_id, status, priority, kind, state, n in bind.execute(
        _DOMAIN_LOAD,
        {
            "domain": domain_id,
            "since": int(since.timestamp()),
            "states": sorted(state.value for state in OPEN),
        },
    ):
        if campaign_id is None:
            accepted = int(n or 0) if aligned(since) else accepted_since(bind, domain_id, since)
            continue
        n = int(n or 0)
        if state in _IN_FLIGHT:
            in_flight += n
        if state == LedgerState.CLAIMED.value:
            claimed += n
        if kind == RELAY_KIND:
            relay_waiting += n
        if state == LedgerState.PENDING.value and status == RUNNING_STATUS and n:
            pending[int(campaign_id)] = (int(priority), n)
    return DomainLoad(
        accepted,
        in_flight,
        tuple((campaign, priority, n) for campaign, (priority, n) in sorted(pending.items())),
        relay_waiting,
        claimed,
    )


_IN_FLIGHT = frozenset(state.value for state in IN_FLIGHT)
# The row whose campaign is NULL carries the sends since ``since``; the others, open rows per
# campaign and state. Totals and deltas alike: exact whether or not a fold ran.
_DOMAIN_LOAD = text(
    """
    SELECT NULL, NULL, NULL, NULL, NULL, sum(sends.accepted) FROM (
        SELECT accepted FROM domain_sends WHERE domain_id = :domain AND bucket >= :since
        UNION ALL
        SELECT accepted FROM domain_send_deltas WHERE domain_id = :domain AND bucket >= :since
    ) AS sends
    UNION ALL
    SELECT c.id, c.status, c.priority, c.kind, n.state, sum(n.row_count)
    FROM campaigns AS c JOIN (
        SELECT campaign_id, state, row_count FROM ledger_counts WHERE state IN :states
        UNION ALL
        SELECT campaign_id, state, row_count FROM ledger_count_deltas WHERE state IN :states
    ) AS n ON n.campaign_id = c.id
    WHERE c.domain_id = :domain
    GROUP BY c.id, c.status, c.priority, c.kind, n.state
    """
).bindparams(bindparam("states", expanding=True))


def fold(connection: Connection) -> int:
    """Move the deltas the triggers appended into the totals (PostgreSQL; on SQLite the
    triggers write the totals). Return how many deltas moved; 0 if another fold is running."""
    if connection.dialect.name != "postgresql":
        return 0
    if not connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FOLD_LOCK}):
        return 0
    moved = 0
    for statement in _FOLDS:
        while True:
            done = int(connection.scalar(statement, {"batch": FOLD_BATCH}) or 0)
            moved += done
            if done < FOLD_BATCH:
                break
    return moved


def _fold_statement(
    deltas: str, totals: str, keys: tuple[str, ...], sums: tuple[str, ...]
) -> TextClause:
    """The deltas are deleted and added to the totals in one statement, so none is lost or
    counted twice, whatever else runs (a delta not yet committed is not seen, and goes in a
    later fold). The oldest ``batch`` of them, as an id range: one look at the primary key,
    whatever the planner believes of a table that is usually nearly empty. Rows are upserted
    in key order: two folds never deadlock."""
    key, summed = ", ".join(keys), ", ".join(sums)
    totalled = ", ".join(f"sum({column})" for column in sums)
    added = ", ".join(f"{column} = {totals}.{column} + excluded.{column}" for column in sums)
    return text(  # the names are this module's constants, never input
        f"WITH moved AS (DELETE FROM {deltas} WHERE id <= (SELECT max(id) FROM "  # noqa: S608
        f"(SELECT id FROM {deltas} ORDER BY id LIMIT :batch) AS oldest) "
        f"RETURNING {key}, {summed}), "
        f"added AS (INSERT INTO {totals} ({key}, {summed}) SELECT {key}, {totalled} FROM moved "
        f"GROUP BY {key} ORDER BY {key} ON CONFLICT ({key}) DO UPDATE SET {added}) "
        "SELECT count(*) FROM moved"
    )


_FOLDS = (
    _fold_statement(
        "ledger_count_deltas",
        "ledger_counts",
        ("campaign_id", "state", "outcome"),
        ("row_count", "attempts"),
    ),
    _fold_statement("domain_send_deltas", "domain_sends", ("domain_id", "bucket"), ("accepted",)),
    _fold_statement(
        "domain_outcome_deltas",
        "domain_outcomes",
        ("domain_id", "bucket", "provider", "outcome"),
        ("row_count",),
    ),
)


def outcomes_between(
    bind: Bind, domain_id: int, since: datetime, until: datetime
) -> dict[tuple[str, str], int]:
    """The domain's delivery outcomes with ``since <= outcome_at <= until``, per (provider
    group, outcome): whole quarter hours from the counters, the two partial ones at the ends
    from the ledger's ``outcome_at`` index (at most a quarter hour of reports each), in one
    statement. Exact, and flat in the size of the ledger."""
    first = _bucket_ceil(since)
    last = _bucket_floor(until)
    if first >= last:  # the window lies within one or two quarter hours: all from the ledger
        query = _ledger_outcomes(domain_id, LedgerRow.outcome_at.between(since, until))
    else:
        lower = datetime.fromtimestamp(first, UTC)
        upper = datetime.fromtimestamp(last, UTC)
        both = union_all(
            # Each end its own range of the index (one OR of the two is planned as a scan).
            _ledger_outcomes(
                domain_id, and_(LedgerRow.outcome_at >= since, LedgerRow.outcome_at < lower)
            ),
            _ledger_outcomes(domain_id, LedgerRow.outcome_at.between(upper, until)),
            *(
                select(table.provider, table.outcome, table.row_count).where(
                    table.domain_id == domain_id, table.bucket >= first, table.bucket < last
                )
                for table in (DomainOutcomes, DomainOutcomesDelta)
            ),
        ).subquery()
        query = select(both.c.provider, both.c.outcome, func.sum(both.c.row_count)).group_by(
            both.c.provider, both.c.outcome
        )
    return {
        (str(provider), str(outcome)): int(n) for provider, outcome, n in bind.execute(query) if n
    }


def campaign_outcomes_between(
    bind: Bind, campaign_id: int, since: datetime, until: datetime
) -> dict[tuple[str, str], int]:
    """One campaign's delivery outcomes with ``since <= outcome_at <= until``, per (provider
    group, outcome): its rows in the window, read by the ``outcome_at`` index (the counters
    keep domains' outcomes, not campaigns')."""
    query = (
        select(LedgerRow.provider, LedgerRow.outcome, func.count())
        .where(
            LedgerRow.campaign_id == campaign_id,
            LedgerRow.outcome_at >= since,
            LedgerRow.outcome_at <= until,
        )
        .group_by(LedgerRow.provider, LedgerRow.outcome)
    )
    return {(str(p), str(o)): int(n) for p, o, n in bind.execute(query) if n}


def by_bucket(
    bind: Bind, domain_id: int, since: datetime
) -> tuple[dict[int, int], dict[tuple[int, str], int]]:
    """The domain's sends per quarter hour, and its outcomes per (quarter hour, outcome), from
    ``since`` on (a quarter hour: a day's start in any time zone): a ramp's history of many days
    read from a few thousand counter rows, not from the ledger."""
    first = _bucket_floor(since)
    sends: dict[int, int] = {}
    both_sends = union_all(
        *(
            select(table.bucket, table.accepted).where(
                table.domain_id == domain_id, table.bucket >= first
            )
            for table in (DomainSends, DomainSendsDelta)
        )
    ).subquery()
    for bucket, n in bind.execute(
        select(both_sends.c.bucket, func.sum(both_sends.c.accepted)).group_by(both_sends.c.bucket)
    ):
        if n:
            sends[int(bucket)] = int(n)
    outcomes: dict[tuple[int, str], int] = {}
    both_outcomes = union_all(
        *(
            select(table.bucket, table.outcome, table.row_count).where(
                table.domain_id == domain_id, table.bucket >= first
            )
            for table in (DomainOutcomes, DomainOutcomesDelta)
        )
    ).subquery()
    for bucket, outcome, n in bind.execute(
        select(
            both_outcomes.c.bucket, both_outcomes.c.outcome, func.sum(both_outcomes.c.row_count)
        ).group_by(both_outcomes.c.bucket, both_outcomes.c.outcome)
    ):
        if n:
            outcomes[(int(bucket), str(outcome))] = int(n)
    return sends, outcomes


def _ledger_outcomes(domain_id: int, when: ColumnElement[bool]) -> Select[str, str | None, int]:
    return (
        in_domain(
            select(LedgerRow.provider, LedgerRow.outcome, func.count().label("row_count")),
            domain_id,
        )
        .where(when, LedgerRow.outcome.is_not(None))
        .group_by(LedgerRow.provider, LedgerRow.outcome)
    )


def _bucket_floor(moment: datetime) -> int:
    return int(moment.timestamp()) // BUCKET_SECONDS * BUCKET_SECONDS


def _bucket_ceil(moment: datetime) -> int:
    floor = _bucket_floor(moment)
    return floor if aligned(moment) else floor + BUCKET_SECONDS


@dataclass(frozen=True)
class Mismatch:
    what: str  # "campaign 3 accepted/delivered", "domain 1 2026-11-29T10:15:00+00:00"
    counted: int
    in_ledger: int  # what the rows counted hold
    rows: str = "the ledger"  # which rows

    def __str__(self) -> str:
        return f"{self.what}: counters say {self.counted:,}, {self.rows} holds {self.in_ledger:,}"


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
        rows: dict[tuple[int, str, str], int] = {}
        calls: dict[tuple[int, str, str], int] = {}
        for c, s, o, n, a in connection.execute(ledger_rows):
            rows[(int(c), str(s), str(o))], calls[(int(c), str(s), str(o))] = int(n), int(a)
        # A pruned campaign's rows are in its archive; its counters are its totals, frozen.
        live = unpruned_campaigns()
        counted = counts(connection, live)
        counted_rows = {(c.campaign_id, c.state, c.outcome or ""): c.rows for c in counted}
        counted_calls = {(c.campaign_id, c.state, c.outcome or ""): c.attempts for c in counted}
        # A relay stream's rows pruned while it runs on stay in its counters, noted archived.
        for c, s, o, n, a in connection.execute(
            select(
                LedgerCount.campaign_id,
                LedgerCount.state,
                LedgerCount.outcome,
                LedgerCount.archived,
                LedgerCount.archived_attempts,
            ).where(
                LedgerCount.campaign_id.in_(live),
                (LedgerCount.archived != 0) | (LedgerCount.archived_attempts != 0),
            )
        ):
            key = (int(c), str(s), str(o))
            counted_rows[key] = counted_rows.get(key, 0) - int(n)
            counted_calls[key] = counted_calls.get(key, 0) - int(a)

        def campaign(key: tuple[int, str, str]) -> str:
            return f"campaign {key[0]} {key[1]}" + (f"/{key[2]}" if key[2] else "")

        found += compare(rows, counted_rows, lambda key: f"{campaign(key)} rows")
        found += compare(calls, counted_calls, lambda key: f"{campaign(key)} ACS calls")
        found += compare(
            _ledger_sends(connection),
            _counted_sends(connection),
            lambda key: f"domain {key[0]} sends at {_iso(key[1])}",
        )
        found += compare(
            _ledger_outcome_buckets(connection),
            _counted_outcome_buckets(connection),
            lambda key: f"domain {key[0]} {key[2]}/{key[3]} outcomes at {_iso(key[1])}",
        )
        return found


def compare(
    truth: dict[Key, int],
    counted: dict[Key, int],
    describe: Callable[[Key], str],
    rows: str = "the ledger",
) -> list[Mismatch]:
    """Each key whose count differs between the two (a key missing from one counts 0)."""
    return [
        Mismatch(describe(key), counted.get(key, 0), truth.get(key, 0), rows)
        for key in sorted(set(truth) | set(counted))
        if counted.get(key, 0) != truth.get(key, 0)
    ]


def _iso(bucket: int) -> str:
    return datetime.fromtimestamp(bucket, UTC).isoformat()


def epoch_bucket(connection: Connection, column: Any) -> ColumnElement[Any]:
    """Epoch seconds down to the quarter hour, with integer division as the triggers do."""
    seconds: ColumnElement[Any] = (
        cast(func.floor(func.extract("epoch", column)), BigInteger)
        if connection.dialect.name == "postgresql"
        else cast(func.strftime("%s", column), Integer)
    )
    return seconds // BUCKET_SECONDS * BUCKET_SECONDS


def _ledger_outcome_buckets(connection: Connection) -> dict[tuple[int, int, str, str], int]:
    bucket = epoch_bucket(connection, LedgerRow.outcome_at)
    query = (
        through_campaign(
            select(DOMAIN_ID, bucket, LedgerRow.provider, LedgerRow.outcome, func.count())
        )
        .where(LedgerRow.outcome_at.is_not(None), LedgerRow.outcome.is_not(None))
        .group_by(DOMAIN_ID, bucket, LedgerRow.provider, LedgerRow.outcome)
    )
    return {(int(d), int(b), str(p), str(o)): int(n) for d, b, p, o, n in connection.execute(query)}


def _counted_outcome_buckets(connection: Connection) -> dict[tuple[int, int, str, str], int]:
    """What the counters say the ledger holds: their totals less what was archived."""
    both = union_all(
        select(
            DomainOutcomes.domain_id,
            DomainOutcomes.bucket,
            DomainOutcomes.provider,
            DomainOutcomes.outcome,
            (DomainOutcomes.row_count - DomainOutcomes.archived).label("row_count"),
        ),
        select(
            DomainOutcomesDelta.domain_id,
            DomainOutcomesDelta.bucket,
            DomainOutcomesDelta.provider,
            DomainOutcomesDelta.outcome,
            DomainOutcomesDelta.row_count,
        ),
    ).subquery()
    query = select(
        both.c.domain_id, both.c.bucket, both.c.provider, both.c.outcome, func.sum(both.c.row_count)
    ).group_by(both.c.domain_id, both.c.bucket, both.c.provider, both.c.outcome)
    return {
        (int(d), int(b), str(p), str(o)): int(n) for d, b, p, o, n in connection.execute(query) if n
    }


def _ledger_sends(connection: Connection) -> dict[tuple[int, int], int]:
    bucket = epoch_bucket(connection, LedgerRow.accepted_at)
    query = (
        through_campaign(select(DOMAIN_ID, bucket, func.count()))
        .where(LedgerRow.accepted_at.is_not(None))
        .group_by(DOMAIN_ID, bucket)
    )
    return {(int(d), int(b)): int(n) for d, b, n in connection.execute(query)}


def _counted_sends(connection: Connection) -> dict[tuple[int, int], int]:
    both = union_all(
        select(
            DomainSends.domain_id,
            DomainSends.bucket,
            (DomainSends.accepted - DomainSends.archived).label("accepted"),
        ),
        select(DomainSendsDelta.domain_id, DomainSendsDelta.bucket, DomainSendsDelta.accepted),
    ).subquery()
    query = select(both.c.domain_id, both.c.bucket, func.sum(both.c.accepted)).group_by(
        both.c.domain_id, both.c.bucket
    )
    return {(int(d), int(b)): int(n) for d, b, n in connection.execute(query) if n}
