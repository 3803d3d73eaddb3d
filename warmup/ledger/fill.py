"""Rows into the ledger and out of the running: a campaign's fill, cancel, unsubscribes.

Each function writes in the caller's transaction (a campaign start, a cancel, an unsubscribe), so
the campaign's status and its rows change together.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
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
NOT_STARTED = (LedgerState.PENDING.value, LedgerState.CLAIMED.value)


def fill(
    connection: Connection,
    campaign_id: int,
    list_id: int,
    *,
    suppressed: Collection[str],
    at: datetime,
    progress: Progress | None = None,
) -> int:
    """One row per recipient of the list, most engaged first; return the number of rows.

    Addresses in ``suppressed`` get a ``suppressed`` row, so the campaign's counts always add
    up to the list's size.
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
    for recipient_id, address in connection.execute(ordered).yield_per(BATCH):
        rank += 1
        state = LedgerState.SUPPRESSED if address in suppressed else LedgerState.PENDING
        batch.append(
            {
                "campaign_id": campaign_id,
                "recipient_id": recipient_id,
                "address": address,
                "provider": provider_group(address).value,
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
        .where(LedgerRow.address == address, LedgerRow.state == LedgerState.PENDING.value)
        .values(state=LedgerState.SUPPRESSED.value, last_error=reason, updated_at=at)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
