"""The lists there are, with their sizes: one read for the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from warmup.lists.importer import measure_of
from warmup.store.database import Database
from warmup.store.models import ContactList


@dataclass(frozen=True)
class ListSummary:
    name: str
    recipients: int
    fields: list[str]
    created_at: datetime
    created_by: str


def list_summaries(database: Database) -> list[ListSummary]:
    """Every list by name, with its number of recipients (as kept on the list's row)."""
    with database.engine.begin() as connection:
        return [
            ListSummary(
                name=item.name,
                recipients=item.size
                if item.size is not None
                else measure_of(connection, item.id).size,
                fields=list(item.fields),
                created_at=item.created_at,
                created_by=item.created_by,
            )
            for item in connection.execute(select(ContactList).order_by(ContactList.name)).all()
        ]
