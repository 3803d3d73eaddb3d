"""Retention: finished campaigns' ledger rows out to compressed CSV archives, then out of the
database (``warmup db prune``); and the settled rows of relay streams, which never finish.
Counters, the audit log and suppressions stay, so reports, ``/metrics`` and the domain's
history still add up."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select, update

from warmup import audit
from warmup.errors import ConfigError
from warmup.ledger.archive import delete_archived, write_archive
from warmup.ledger.states import LedgerState
from warmup.store.database import Database
from warmup.store.models import FINISHED_STATUSES, RELAY_KIND, Campaign, LedgerRow

# Rows of a relay stream archived and deleted per transaction (and per archive file).
STREAM_CHUNK = 100_000


@dataclass(frozen=True)
class Pruned:
    campaign: str
    rows: int
    archive: Path


def archive_name(name: str, campaign_id: int, part: str = "") -> str:
    """The file a campaign's pruned rows are archived to (in the folder ops chose); a relay
    stream, pruned again and again, names each ``part``."""
    return f"ledger-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{campaign_id}{part}.csv.gz"


def prunable(database: Database, finished_before: datetime) -> list[tuple[int, str]]:
    """(id, name) of the campaigns finished before the date whose rows are still here."""
    with database.session() as session:
        return [
            (int(id_), str(name))
            for id_, name in session.execute(
                select(Campaign.id, Campaign.name)
                .where(
                    Campaign.status.in_(FINISHED_STATUSES),
                    Campaign.finished_at < finished_before,
                    Campaign.pruned_at.is_(None),
                )
                .order_by(Campaign.finished_at)
            )
        ]


def prune(
    database: Database,
    finished_before: datetime,
    folder: Path,
    *,
    actor: str,
    at: datetime,
    done: Callable[[Pruned], None] | None = None,
) -> list[Pruned]:
    """Archive and delete the ledger rows of every campaign finished before the date, one
    campaign per transaction. The archive is complete on disk (written, then renamed) before
    the rows go; a campaign whose rows changed meanwhile is left as it was."""
    folder.mkdir(parents=True, exist_ok=True)
    pruned: list[Pruned] = []
    for campaign_id, name in prunable(database, finished_before):
        path = folder / archive_name(name, campaign_id)
        with database.engine.begin() as connection:
            marked = connection.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.pruned_at.is_(None))
                .values(pruned_at=at)
            )
            if marked.rowcount != 1:
                raise ConfigError(f"campaign {name} was pruned meanwhile")
            rows = _archive_and_delete(connection, campaign_id, f"campaign {name}", path)
            audit.record(
                connection,
                "campaign",
                name,
                "prune",
                actor=actor,
                reason=f"{rows:,} ledger rows archived to {path.name} and deleted",
                at=at,
            )
        pruned.append(Pruned(name, rows, path))
        if done is not None:
            done(pruned[-1])
    return pruned


def settled_before(before: datetime) -> ColumnElement[bool]:
    """Rows that will not change again, last changed before the date: refused, suppressed
    or skipped, or accepted with their delivery outcome known (a report still to come needs
    its row to match; after ``WARMUP_OUTCOME_UNKNOWN_AFTER_SECONDS`` the outcome is
    ``unknown``)."""
    done = (LedgerState.FAILED.value, LedgerState.SUPPRESSED.value, LedgerState.SKIPPED.value)
    return and_(
        LedgerRow.updated_at < before,
        or_(LedgerRow.outcome_at.is_(None), LedgerRow.outcome_at < before),
        or_(
            LedgerRow.state.in_(done),
            and_(LedgerRow.state == LedgerState.ACCEPTED.value, LedgerRow.outcome.is_not(None)),
        ),
    )


def prunable_streams(database: Database, before: datetime) -> list[tuple[int, str, int]]:
    """(id, name, rows settled before the date) of each relay stream that has such rows."""
    with database.session() as session:
        return [
            (int(id_), str(name), int(rows))
            for id_, name, rows in session.execute(
                select(Campaign.id, Campaign.name, func.count())
                .join(LedgerRow, LedgerRow.campaign_id == Campaign.id)
                .where(Campaign.kind == RELAY_KIND, settled_before(before))
                .group_by(Campaign.id, Campaign.name)
                .order_by(Campaign.name)
            )
        ]


def prune_streams(
    database: Database,
    before: datetime,
    folder: Path,
    *,
    actor: str,
    at: datetime,
    done: Callable[[Pruned], None] | None = None,
) -> list[Pruned]:
    """Archive and delete the rows of every relay stream settled before the date, in
    transactions of :data:`STREAM_CHUNK` rows, one archive file each. The stream runs on:
    it is marked pruned only inside each transaction, so the delete leaves its counters and
    its domain's quarter hours as they are (noted archived), and no other session sees it
    pruned. A chunk whose rows changed meanwhile is rolled back whole."""
    folder.mkdir(parents=True, exist_ok=True)
    pruned: list[Pruned] = []
    for campaign_id, name, _ in prunable_streams(database, before):
        part = 0
        while True:
            part += 1
            path = folder / archive_name(name, campaign_id, f"-{at:%Y%m%dT%H%M%S}-{part:04d}")
            chunk = _prune_stream_chunk(database, campaign_id, name, before, path, actor, at)
            if chunk is None:
                break
            pruned.append(chunk)
            if done is not None:
                done(chunk)
    return pruned


def _prune_stream_chunk(
    database: Database,
    campaign_id: int,
    name: str,
    before: datetime,
    path: Path,
    actor: str,
    at: datetime,
) -> Pruned | None:
    with database.engine.begin() as connection:
        ids = connection.scalars(
            select(LedgerRow.id)
            .where(LedgerRow.campaign_id == campaign_id, settled_before(before))
            .order_by(LedgerRow.id)
            .limit(STREAM_CHUNK)
        ).all()
        if not ids:
            return None
        rows = and_(settled_before(before), LedgerRow.id.between(ids[0], ids[-1]))
        connection.execute(update(Campaign).where(Campaign.id == campaign_id).values(pruned_at=at))
        archived = _archive_and_delete(connection, campaign_id, f"relay stream {name}", path, rows)
        connection.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(pruned_at=None)
        )
        audit.record(
            connection,
            "campaign",
            name,
            "prune",
            actor=actor,
            reason=(
                f"{archived:,} ledger rows settled before {before:%Y-%m-%d} archived to "
                f"{path.name} and deleted"
            ),
            at=at,
        )
    return Pruned(name, archived, path)


def _archive_and_delete(
    connection: Connection,
    campaign_id: int,
    what: str,
    path: Path,
    only: ColumnElement[bool] | None = None,
) -> int:
    """The campaign's rows (``only`` those) to an archive complete on disk (written, then
    renamed), then out of the ledger, in the caller's transaction, which must have marked the
    campaign pruned. Rows that changed between the two roll it all back: the rows stay, and
    the archive is only a copy."""
    partial = path.with_name(path.name + ".part")
    archived = write_archive(connection, campaign_id, partial, only)
    os.replace(partial, path)
    deleted = delete_archived(connection, campaign_id, only)
    if deleted != archived:
        raise ConfigError(
            f"{what}: {deleted:,} rows to delete but {archived:,} archived; its rows changed "
            "meanwhile, run prune again"
        )
    return archived
