"""The lists there are, with their sizes: one read for the API and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from warmup.errors import NotFoundError
from warmup.lists.importer import measure_of
from warmup.store.database import Database
from warmup.store.models import ContactList, Recipient


@dataclass(frozen=True)
class ListSummary:
    name: str
    recipients: int
    fields: list[str]
    created_at: datetime
    created_by: str
    # The languages its recipients read, as declared (empty: none declared, every language).
    languages: list[str]


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
                languages=list(item.languages or []),
            )
            for item in connection.execute(select(ContactList).order_by(ContactList.name)).all()
        ]


@dataclass(frozen=True)
class ListDetail:
    """One list as a marketer checks it before a campaign: its size, how many rows carry each
    personalisation field, and a few of its rows."""

    summary: ListSummary
    filled: dict[str, int]  # field -> recipients with a value for it
    sample: list[tuple[str, dict[str, object]]]  # (address, fields), first by engagement


def list_detail(database: Database, name: str, sample: int = 5) -> ListDetail:
    with database.engine.begin() as connection:
        item = connection.execute(select(ContactList).where(ContactList.name == name)).first()
        if item is None:
            raise NotFoundError(f"no list {name!r} (see: warmup lists show)")
        measure = measure_of(connection, item.id)
        rows = connection.execute(
            select(Recipient.address, Recipient.fields)
            .where(Recipient.list_id == item.id)
            .order_by(Recipient.engagement.desc().nulls_last(), Recipient.id)
            .limit(sample)
        ).all()
    fields = list(item.fields)
    return ListDetail(
        ListSummary(
            item.name,
            measure.size,
            fields,
            item.created_at,
            item.created_by,
            list(item.languages or []),
        ),
        {field: measure.filled.get(field, 0) for field in fields},
        [(str(address), dict(values or {})) for address, values in rows],
    )


@dataclass(frozen=True)
class Member:
    address: str
    fields: dict[str, object]


def member(database: Database, list_id: int, address: str) -> Member | None:
    """One member of a list by its normalised address (a preview's or a test send's)."""
    query = select(Recipient.address, Recipient.fields).where(
        Recipient.list_id == list_id, Recipient.address == address
    )
    with database.engine.connect() as connection:
        found = connection.execute(query).first()
    return None if found is None else Member(str(found[0]), dict(found[1]))


def first_member(database: Database, list_id: int) -> Member | None:
    """The list's most engaged member (the first a campaign would send to)."""
    query = (
        select(Recipient.address, Recipient.fields)
        .where(Recipient.list_id == list_id)
        .order_by(Recipient.engagement.desc().nulls_last(), Recipient.id)
        .limit(1)
    )
    with database.engine.connect() as connection:
        found = connection.execute(query).first()
    return None if found is None else Member(str(found[0]), dict(found[1]))


def languages_of(database: Database, list_id: int) -> tuple[str, ...]:
    """The languages a list declared for its recipients' pages (empty: none declared)."""
    with database.engine.connect() as connection:
        found = connection.scalar(select(ContactList.languages).where(ContactList.id == list_id))
    return tuple(found or ())
