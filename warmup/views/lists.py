"""Recipient lists as the API and ``warmup lists show --json`` show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from warmup.lists.catalog import list_summaries
from warmup.store.database import Database


class ListOut(BaseModel):
    name: str
    recipients: int
    fields: list[str]
    created_at: datetime
    created_by: str


def all_lists(database: Database) -> list[ListOut]:
    return [ListOut.model_validate(item, from_attributes=True) for item in list_summaries(database)]
