"""A campaign as the rest of the service sees it: a frozen record, never the ORM row.

The campaign owner answers with this (``CampaignStore.get``, ``by_id``, ``create``…), so no
ORM object leaves the package: a caller can neither change a row by accident nor trigger a
load on a closed session, and a column the owner renames shows up in one place
(``tests/unit/test_records.py`` holds the fields to the table's columns).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from warmup.store.models import Campaign


@dataclass(frozen=True)
class CampaignRecord:
    id: int
    name: str
    list_id: int
    domain_id: int
    sender_address: str
    reply_to: str | None
    subject: str
    html: str | None
    text: str | None
    status: str
    priority: int
    kind: str  # "bulk", or "relay": a domain's transactional stream
    created_at: datetime
    created_by: str
    started_at: datetime | None
    finished_at: datetime | None
    scheduled_at: datetime | None
    scheduled_by: str | None
    schedule_allow_empty: bool | None
    variants: list[dict[str, Any]] | None  # B, C, D: {"label", "subject", "html", "text"}
    test_fraction: float | None
    test_wait_seconds: int | None
    winner: str | None
    winner_at: datetime | None
    fill_total: int | None
    fill_heartbeat: datetime | None
    pruned_at: datetime | None


_FIELDS = tuple(field.name for field in fields(CampaignRecord))


def campaign_record(row: Campaign) -> CampaignRecord:
    return CampaignRecord(**{name: getattr(row, name) for name in _FIELDS})
