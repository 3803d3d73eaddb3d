"""Suppressions as the API and ``warmup suppression show|export --json`` show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from warmup.suppression.store import SuppressionRecord


class SuppressionOut(BaseModel):
    address: str
    reason: str
    source: str
    created_at: datetime
    expires_at: datetime | None
    note: str


def suppression_out(row: SuppressionRecord) -> SuppressionOut:
    return SuppressionOut.model_validate(row, from_attributes=True)
