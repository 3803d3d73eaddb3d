"""Rows into the ledger and out of the running: a campaign's fill, an A/B test's release,
cancel, unsubscribes.

Each function writes in the caller's transaction (a campaign start, a cancel, an unsubscribe), so
the campaign's status and its rows change together.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from warmup.control.providers import provider_group
from warmup.ledger.states import LedgerState, new_operation_id
from warmup.store.models import LedgerRow, Recipient

BATCH = 5000
Progress = Callable[[int], None]
# Rows whose request has not started: a cancel can still stop them. A row ``sending`` or
# ``verifying`` may have reached ACS and keeps its state until its result is known.
NOT_STARTED = (LedgerState.PENDING.value, LedgerState.WAITING.value, LedgerState.CLAIMED.value)
# Rows nobody has claimed: an unsubscribe can turn them to ``suppressed`` at once.
UNCLAIMED = (LedgerState.PENDING.value, LedgerState.WAITING.value)


def fill(
    connection: Connection,
    campaign_id: int,
    list_id: int,
    *,
    suppressed: Collection[str],
    at: datetime,
    progress: Progress | None = None,
    test: TestGroup | None = None,
) -> int:
    """One row per recipient of the list, most engaged first; return the number of rows.

    Addresses in ``suppressed`` get a ``suppressed`` row, so the campaign's counts always add
    up to the list's size. With an A/B ``test``, its first rows to send take the variants in
    turn (so each variant gets recipients as engaged as the others') and the rest wait for
    the winner.
    """
    ordered = (
        select(Recipient.id, Recipient.address)
        .where(Recipient.list_id == list_id)
        .order_by(
            Recipient.engagement.desc().nulls_last(),
            Recipient.last_engaged_at.desc().nulls_last(),
            Recipient.id,
        )
    )
    batch: list[dict[str, Any]] = []
    rank = 0
    to_send = 0
    for recipient_id, address in connection.execute(ordered).yield_per(BATCH):
        rank += 1
        state = LedgerState.SUPPRESSED if address in suppressed else LedgerState.PENDING
        variant = None
        if test is not None and state is LedgerState.PENDING:
            if to_send < test.rows:
                variant = test.labels[to_send % len(test.labels)]
            else:
                state = LedgerState.WAITING
            to_send += 1
        batch.append(
            {
                "campaign_id": campaign_id,
                "recipient_id": recipient_id,
                "address": address,
                "provider": provider_group(address).value,
                "variant": variant,
                "rank": rank,
                "state": state.value,
                "operation_id": new_operation_id(),
                "attempts": 0,
                "last_error": "suppressed when the campaign started"
                if state is LedgerState.SUPPRESSED
                else None,
                "updated_at": at,
            }
        )
        if len(batch) >= BATCH:
            connection.execute(insert(LedgerRow), batch)
            batch.clear()
            if progress is not None:
                progress(rank)
    if batch:
        connection.execute(insert(LedgerRow), batch)
    if progress is not None:
        progress(rank)
    return rank


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
    """The address's rows still waiting to be claimed become ``suppressed``."""
    result = session.execute(
        update(LedgerRow)
        .where(LedgerRow.address == address, LedgerRow.state.in_(UNCLAIMED))
        .values(state=LedgerState.SUPPRESSED.value, last_error=reason, updated_at=at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
