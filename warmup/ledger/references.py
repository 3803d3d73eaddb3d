"""What the ledger's constraints used to guarantee about its ids, checked after the fact.

``send_ledger`` has no foreign keys (migration 0020): checking one per row written cost a
third of a campaign start's fill, and no code path deletes a campaign, a list or a recipient.
Writers take the ids from the rows they reference, in the same transaction; ``warmup db
check`` proves it with :func:`orphans`. Nor has it a unique index on the Operation-Id
(migration 0022): each is a fresh random UUID; :func:`shared_operation_ids` proves them
distinct.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from warmup.ledger.joins import missing_campaign, missing_recipient
from warmup.store.models import LedgerRow


def orphans(connection: Connection) -> list[str]:
    """What in the ledger names a campaign or a recipient that does not exist (empty: every
    reference holds). Reads the whole ledger: a check for ops."""
    found = []
    for missing, condition in (
        ("campaign", missing_campaign()),
        ("recipient", missing_recipient()),
    ):
        rows = connection.scalar(select(func.count()).select_from(LedgerRow).where(condition))
        if rows:  # None or 0: none
            found.append(f"{rows:,} ledger row(s) name a {missing} that does not exist")
    return found


def shared_operation_ids(connection: Connection) -> list[str]:
    """Operation-Ids that more than one ledger row holds (empty: each row's is its own). Two
    rows with one id would share ACS's answer about it: the second would be taken as sent.
    Reads the whole ledger: a check for ops."""
    shared = (
        select(LedgerRow.operation_id)
        .group_by(LedgerRow.operation_id)
        .having(func.count() > 1)
        .subquery()
    )
    # The count and an example in one pass: the grouping reads the whole ledger.
    ids, example = connection.execute(
        select(func.count(), func.min(shared.c.operation_id)).select_from(shared)
    ).one()
    if not ids:
        return []
    return [f"{ids:,} Operation-Id(s) held by more than one ledger row (one: {example})"]
