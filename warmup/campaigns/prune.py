"""Retention: finished campaigns' ledger rows out to compressed CSV archives, then out of the
database (``warmup db prune``). Counters, the audit log and suppressions stay, so reports,
``/metrics`` and the domain's history still add up."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update

from warmup import audit
from warmup.errors import ConfigError
from warmup.ledger.archive import delete_archived, write_archive
from warmup.store.database import Database
from warmup.store.models import FINISHED_STATUSES, Campaign


@dataclass(frozen=True)
class Pruned:
    campaign: str
    rows: int
    archive: Path


def archive_name(name: str, campaign_id: int) -> str:
    """The file a campaign's pruned rows are archived to (in the folder ops chose)."""
    return f"ledger-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{campaign_id}.csv.gz"


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
        partial = path.with_name(path.name + ".part")
        with database.engine.begin() as connection:
            rows = write_archive(connection, campaign_id, partial)
            os.replace(partial, path)
            marked = connection.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id, Campaign.pruned_at.is_(None))
                .values(pruned_at=at)
            )
            if marked.rowcount != 1:
                raise ConfigError(f"campaign {name} was pruned meanwhile")
            deleted = delete_archived(connection, campaign_id)
            if deleted != rows:  # rolled back: the rows stay, the archive is only a copy
                raise ConfigError(
                    f"campaign {name}: {deleted:,} rows to delete but {rows:,} archived; "
                    "it changed meanwhile, run prune again"
                )
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
