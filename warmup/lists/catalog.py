"""The lists there are, with their sizes: one read for the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from warmup.store.database import Database
from warmup.store.models import ContactList, Recipient


@dataclass(frozen=True)
class ListSummary:
    name: str
    recipients: int
    fields: list[str]
    created_at: datetime
    created_by: str


def list_summaries(database: Database) -> list[ListSummary]:
    """Every list by name, with its number of recipients."""
    with database.session() as session:
        counts = dict(
            session.execute(
                select(Recipient.list_id, func.count()).group_by(Recipient.list_id)
            ).all()
        )
        return [
            ListSummary(
                name=item.name,
                recipients=counts.get(item.id, 0),
                fields=list(item.fields),
                created_at=item.created_at,
                created_by=item.created_by,
            )
            for item in session.scalars(select(ContactList).order_by(ContactList.name))
        ]
