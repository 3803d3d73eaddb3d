"""Recipient lists as the API and ``warmup lists show --json`` show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from warmup.lists.catalog import list_detail, list_summaries
from warmup.store.database import Database


class ListOut(BaseModel):
    name: str
    recipients: int
    fields: list[str]
    created_at: datetime
    created_by: str
    # The languages of its recipients' pages, as the list declared them (empty: every one).
    languages: list[str]


def all_lists(database: Database) -> list[ListOut]:
    return [ListOut.model_validate(item, from_attributes=True) for item in list_summaries(database)]


class FieldFill(BaseModel):
    field: str
    filled: int  # recipients with a value for it
    empty: int


class ListDetailOut(ListOut):
    fill: list[FieldFill]
    sample: list[dict[str, object]]  # {"address": ..., and the row's fields}


def list_detail_out(database: Database, name: str, sample: int = 5) -> ListDetailOut:
    detail = list_detail(database, name, sample)
    size = detail.summary.recipients
    return ListDetailOut(
        **ListOut.model_validate(detail.summary, from_attributes=True).model_dump(),
        fill=[FieldFill(field=f, filled=n, empty=size - n) for f, n in detail.filled.items()],
        sample=[{"address": address, **fields} for address, fields in detail.sample],
    )
