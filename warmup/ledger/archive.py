"""A finished campaign's ledger rows out of the database: written to a compressed CSV, then
deleted, its counters kept (``warmup db prune``, see :mod:`warmup.campaigns.prune`).

The ledger's delete trigger leaves a pruned campaign's counters alone, so its totals stay what
they were; the rows' share of each domain's quarter hours is noted as ``archived`` beside the
totals, so that :func:`warmup.ledger.counters.mismatches` can still prove the rest exact.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, delete, func, literal, literal_column, select

from warmup.csvsafe import SafeCsvWriter
from warmup.ledger.counters import epoch_bucket
from warmup.ledger.joins import domain_of
from warmup.store.database import dialect_insert
from warmup.store.models import DomainOutcomes, DomainSends, LedgerCount, LedgerRow

COLUMNS = [column.name for column in LedgerRow.__table__.columns]


def write_archive(
    connection: Connection,
    campaign_id: int,
    path: Path,
    only: ColumnElement[bool] | None = None,
) -> int:
    """The campaign's ledger rows (those ``only`` picks; default: all) into ``path`` (gzip
    CSV, one column per ledger column), streamed; return the number of rows. With ``only``
    the rows are locked for the caller's delete: none can change between the two."""
    rows = 0
    query = (
        select(*LedgerRow.__table__.columns)
        .where(LedgerRow.campaign_id == campaign_id, *_also(only))
        .order_by(LedgerRow.id)
        .execution_options(yield_per=10_000)
    )
    if only is not None:
        query = query.with_for_update()
    with gzip.open(path, "wt", encoding="utf-8", newline="") as out:
        writer = SafeCsvWriter(out, COLUMNS)
        for row in connection.execute(query):
            writer.row(["" if value is None else str(value) for value in row])
            rows += 1
    return rows


def delete_archived(
    connection: Connection, campaign_id: int, only: ColumnElement[bool] | None = None
) -> int:
    """Note the campaign's rows (those ``only`` picks; default: all) as archived in its own
    counters and its domain's quarter hours, then delete them. The campaign must be marked
    pruned in this transaction (the delete trigger then leaves its counters as they are)."""
    domain = domain_of(campaign_id)
    insert = dialect_insert(connection)
    picked = (LedgerRow.campaign_id == campaign_id, *_also(only))
    outcome = func.coalesce(LedgerRow.outcome, literal_column("''"))
    rows = (
        select(
            LedgerRow.campaign_id, LedgerRow.state, outcome, literal(0), literal(0),
            func.count(), func.coalesce(func.sum(LedgerRow.attempts), 0),
        )
        .where(*picked)
        .group_by(LedgerRow.campaign_id, LedgerRow.state, outcome)
    )  # fmt: skip
    statement = insert(LedgerCount).from_select(
        ["campaign_id", "state", "outcome", "row_count", "attempts", "archived",
         "archived_attempts"],
        rows,
    )  # fmt: skip
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["campaign_id", "state", "outcome"],
            set_={
                "archived": LedgerCount.archived + statement.excluded.archived,
                "archived_attempts": LedgerCount.archived_attempts
                + statement.excluded.archived_attempts,
            },
        )
    )
    sends: list[ColumnElement[bool]] = [LedgerRow.accepted_at.is_not(None)]
    outcomes = [LedgerRow.outcome_at.is_not(None), LedgerRow.outcome.is_not(None)]
    for table, column, extra, counted in (
        (DomainSends, LedgerRow.accepted_at, (), sends),
        (DomainOutcomes, LedgerRow.outcome_at, (LedgerRow.provider, LedgerRow.outcome), outcomes),
    ):
        # The buckets as the triggers counted them (see warmup.ledger.counters).
        bucket = epoch_bucket(connection, column)
        rows = (
            select(domain, bucket, *extra, literal(0), func.count())
            .where(*picked, *counted)
            .group_by(bucket, *extra)
        )
        total = "accepted" if table is DomainSends else "row_count"
        keys = ["domain_id", "bucket", *(c.key for c in extra)]
        statement = insert(table).from_select([*keys, total, "archived"], rows)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=keys,
                set_={"archived": table.archived + statement.excluded.archived},
            )
        )
    result = connection.execute(delete(LedgerRow).where(*picked))
    return int(result.rowcount or 0)


def _also(only: ColumnElement[bool] | None) -> tuple[ColumnElement[bool], ...]:
    return () if only is None else (only,)
