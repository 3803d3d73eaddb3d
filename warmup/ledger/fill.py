"""Rows into the ledger and out of the running: a campaign's fill, an A/B test's release,
cancel, unsubscribes.

Each function writes in the caller's transaction (a campaign start, a cancel, an unsubscribe), so
the campaign's status and its rows change together.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from warmup.ledger import counters
from warmup.ledger.joins import next_members, unfinished_campaigns
from warmup.ledger.states import LedgerState
from warmup.store.models import LedgerRow, UtcDateTime

SUPPRESSED_AT_START = "suppressed when the campaign started"
# Rows whose request has not started: a cancel can still stop them. A row ``sending`` or
# ``verifying`` may have reached ACS and keeps its state until its result is known.
NOT_STARTED = (LedgerState.PENDING.value, LedgerState.WAITING.value, LedgerState.CLAIMED.value)
# Rows nobody has claimed: an unsubscribe can turn them to ``suppressed`` at once.
UNCLAIMED = (LedgerState.PENDING.value, LedgerState.WAITING.value)
# A chunk's choice is one sort of the list's unfilled recipients (100 bytes or so each). With
# PostgreSQL's default work_mem (4 MB) a chunk of a million sorts through temporary files; with
# this, for the fill's own transaction only, in memory: 5-7 % of a fill (benchmarks/README.md).
FILL_WORK_MEM = "256MB"


def fill_chunk(
    connection: Connection,
    campaign_id: int,
    list_id: int,
    *,
    suppressed: Callable[[ColumnElement[str]], ColumnElement[bool]],
    at: datetime,
    limit: int,
    test: TestGroup | None = None,
) -> int:
    """The next ``limit`` recipients of the list not yet in the campaign's ledger, most engaged
    first, ranked after the rows already there; return how many rows were written.

    Recipients whose address ``suppressed`` picks (a condition on an address column) get a
    ``suppressed`` row, so the campaign's counts always add up to the list's size. With an A/B
    ``test``, its first rows to send take the variants in turn (so each variant gets
    recipients as engaged as the others') and the rest wait for the winner.

    One ``INSERT … SELECT`` per chunk, on PostgreSQL and SQLite alike: the next recipients are
    a top-N sort of those not yet filled (so a chunk left half-done by a crash, or an
    engagement that moved meanwhile, can neither skip nor repeat anyone), the ranks a window
    function over them, the Operation-Ids ``gen_random_uuid()`` (on SQLite a function the store
    registers), the provider groups worked out at import. Where the chunk starts comes from the
    ledger's counters. Nothing row by row in Python, whatever the size of the list.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL work_mem = '{FILL_WORK_MEM}'")
    filled = counters.counts(connection, [campaign_id])
    done = sum(count.rows for count in filled)
    to_send = sum(count.rows for count in filled if count.state != LedgerState.SUPPRESSED.value)
    chunk = next_members(list_id, campaign_id, limit)
    order = (
        chunk.c.engagement.desc().nulls_last(),
        chunk.c.last_engaged_at.desc().nulls_last(),
        chunk.c.id,
    )
    is_suppressed = case((suppressed(chunk.c.address), 1), else_=0)
    ranked = select(
        chunk.c.id.label("recipient_id"),
        chunk.c.address,
        chunk.c.provider,
        is_suppressed.label("suppressed"),
        (done + func.row_number().over(order_by=order)).label("rank"),
        # The order among the rows to send, for the A/B test group.
        (to_send + func.row_number().over(partition_by=is_suppressed, order_by=order)).label(
            "turn"
        ),
    ).subquery()
    state: ColumnElement[str] = literal(LedgerState.PENDING.value)
    variant: ColumnElement[Any] = null()
    if test is not None:
        in_test = ranked.c.turn <= test.rows
        state = case((in_test, LedgerState.PENDING.value), else_=LedgerState.WAITING.value)
        turns = {index: label for index, label in enumerate(test.labels)}
        variant = case((in_test, case(turns, value=(ranked.c.turn - 1) % len(test.labels))))
    rows = select(
        literal(campaign_id),
        ranked.c.recipient_id,
        ranked.c.address,
        ranked.c.provider,
        case((ranked.c.suppressed == 1, null()), else_=variant),
        ranked.c.rank,
        case((ranked.c.suppressed == 1, LedgerState.SUPPRESSED.value), else_=state),
        cast(func.gen_random_uuid(), String),
        literal(0),
        case((ranked.c.suppressed == 1, SUPPRESSED_AT_START), else_=null()),
        literal(at, UtcDateTime()),
    )
    columns = (
        "campaign_id",
        "recipient_id",
        "address",
        "provider",
        "variant",
        "rank",
        "state",
        "operation_id",
        "attempts",
        "last_error",
        "updated_at",
    )
    if connection.dialect.name == "postgresql":
        # Right after a big import the statistics still say the list and the campaign's rows
        # are few; a nested-loop anti-join on that belief compares every recipient with every
        # row filled so far (hours for a million). A hash anti-join is linear whatever they say.
        connection.execute(text("SET LOCAL enable_nestloop = off"))
    connection.execute(insert(LedgerRow).from_select(columns, rows))
    # Counted, not rowcount: SQLite's driver reports -1 for INSERT … SELECT.
    return sum(count.rows for count in counters.counts(connection, [campaign_id])) - done


@dataclass(frozen=True)
class TestGroup:
    """An A/B test's share of a campaign: its first ``rows`` to send, split between ``labels``."""

    labels: tuple[str, ...]
    rows: int


def release_waiting(connection: Connection, campaign_id: int, variant: str, at: datetime) -> int:
    """The rows that waited for an A/B test's winner go out with it."""
    result = connection.execute(
        update(LedgerRow)
        .where(LedgerRow.campaign_id == campaign_id, LedgerRow.state == LedgerState.WAITING.value)
        .values(state=LedgerState.PENDING.value, variant=variant, updated_at=at)
    )
    return int(result.rowcount or 0)


def skip_unsent(connection: Connection, campaign_id: int, *, reason: str, at: datetime) -> int:
    """Every row of the campaign not yet sent becomes ``skipped`` (a cancel)."""
    result = connection.execute(
        update(LedgerRow)
        .where(LedgerRow.campaign_id == campaign_id, LedgerRow.state.in_(NOT_STARTED))
        .values(
            state=LedgerState.SKIPPED.value,
            last_error=reason,
            updated_at=at,
            lease_owner=None,
            lease_deadline=None,
        )
    )
    return int(result.rowcount or 0)


def suppress_pending(session: Session, address: str, *, reason: str, at: datetime) -> int:
    """The address's rows still waiting to be claimed become ``suppressed``.

    Only campaigns not over can hold such rows (a completed one has none left, a cancel skips
    them), so the address is looked up in each of those, named (a handful): one probe of the
    (campaign, address) key each, where the address alone would have the whole ledger read at
    every unsubscribe."""
    unfinished = unfinished_campaigns(session)
    if not unfinished:
        return 0
    result = session.execute(
        update(LedgerRow)
        .where(
            LedgerRow.campaign_id.in_(unfinished),
            LedgerRow.address == address,
            LedgerRow.state.in_(UNCLAIMED),
        )
        .values(state=LedgerState.SUPPRESSED.value, last_error=reason, updated_at=at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# Ranks are 32-bit: relayed messages past this many share the last rank (order kept by id).
MAX_RANK = 2**31 - 1


@dataclass(frozen=True)
class RelayedRows:
    """A relayed message's rows: one per (address, provider group) of its recipients."""

    campaign_id: int
    relay_message_id: int
    addresses: list[tuple[str, str]]
    at: datetime


def enqueue_relayed(connection: Connection, messages: list[RelayedRows]) -> None:
    """Pending rows of relayed messages in their domains' transactional streams, in the
    caller's transaction (the relay's ``250`` waits for it). Ranked by the message's id: a
    stream goes out first come, first served."""
    connection.execute(
        insert(LedgerRow),
        [
            {
                "campaign_id": message.campaign_id,
                "address": address,
                "provider": provider,
                "rank": min(message.relay_message_id, MAX_RANK),
                "state": LedgerState.PENDING.value,
                "operation_id": str(uuid.uuid4()),
                "attempts": 0,
                "relay_message_id": message.relay_message_id,
                "updated_at": message.at,
            }
            for message in messages
            for address, provider in message.addresses
        ],
    )
