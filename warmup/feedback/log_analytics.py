"""Delivery outcomes from a Log Analytics export, for deployments without Event Grid.

The table is ``ACSEmailStatusUpdateOperational``: ``CorrelationId`` is the message id,
``RecipientId`` the address, ``DeliveryStatus`` the status, and ``SmtpStatusCode``,
``EnhancedSmtpStatusCode``, ``FailureReason``/``FailureMessage`` and ``IsHardBounce`` say why.
Exports come as CSV (the portal), a JSON array of rows, or the query API's
``{"tables": [{"columns": [...], "rows": [...]}]}``. Column names are matched case-insensitively.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from warmup.addresses import address_key
from warmup.feedback.reports import (
    ENGAGEMENTS,
    DeliveryReport,
    EngagementReport,
    ReportError,
    make_report,
)

Row = Mapping[str, Any]
REQUIRED = ("CorrelationId", "RecipientId", "DeliveryStatus")
# The tables and columns `warmup feedback pull` asks the query API for.
STATUS_TABLE = "ACSEmailStatusUpdateOperational"
ENGAGEMENT_TABLE = "ACSEmailUserEngagementOperational"
ENGAGEMENT_COLUMNS = (
    "TimeGenerated",
    "_ItemId",
    "CorrelationId",
    "RecipientEmailAddress",
    "EngagementType",
    "EngagementContext",
    "UserAgent",
)
TABLE_COLUMNS = (
    "TimeGenerated",
    "_ItemId",
    "CorrelationId",
    "RecipientId",
    "DeliveryStatus",
    "SmtpStatusCode",
    "EnhancedSmtpStatusCode",
    "FailureReason",
    "IsHardBounce",
)
# Statuses of the message as a whole, logged without a recipient: not outcomes, skipped.
MESSAGE_LEVEL = frozenset({"outfordelivery", "queued", "accepted", "expanded", "running"})


def _rows_from_json(data: Any) -> Iterator[tuple[int, Row]]:
    if isinstance(data, Mapping) and isinstance(data.get("tables"), list):
        for table in data["tables"]:
            names = [str(c.get("name")) for c in table.get("columns", [])]
            for index, values in enumerate(table.get("rows", []), start=1):
                yield index, dict(zip(names, values, strict=False))
        return
    if isinstance(data, list):
        for index, row in enumerate(data, start=1):
            if not isinstance(row, Mapping):
                raise ReportError(f"row {index}: not an object")
            yield index, row
        return
    raise ReportError("JSON export must be an array of rows or a query result with tables")


def read_rows(path: Path) -> Iterator[tuple[int, Row]]:
    """(line or row number, row) of a CSV or JSON export."""
    with path.open(encoding="utf-8-sig", newline="") as source:
        start = source.read(1)
        source.seek(0)
        if path.suffix.lower() == ".json" or start in "[{":
            try:
                data = json.load(source)
            except json.JSONDecodeError as exc:
                raise ReportError(f"{path.name}: not valid JSON: {exc}") from None
            yield from _rows_from_json(data)
            return
        reader = csv.DictReader(source)
        columns = {str(name).strip().lower() for name in reader.fieldnames or []}
        missing = [name for name in REQUIRED if name.lower() not in columns]
        if missing:
            raise ReportError(
                f"{path.name}: not an ACSEmailStatusUpdateOperational export: no "
                f"{', '.join(missing)} column (it has: {', '.join(reader.fieldnames or [])})"
            )
        for row in reader:
            yield reader.line_num, row


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    return {"true": True, "1": True, "false": False, "0": False}.get(text)


def is_message_level(row: Row) -> bool:
    """A row about the message as a whole (``OutForDelivery`` with no recipient): no outcome."""
    fields = {str(key).lower(): value for key, value in row.items()}
    status = str(fields.get("deliverystatus") or "").strip().lower()
    return status in MESSAGE_LEVEL and not fields.get("recipientid")


def to_report(row: Row) -> DeliveryReport:
    fields = {str(key).lower(): value for key, value in row.items()}
    message_id, recipient, status = (
        fields.get(k) for k in ("correlationid", "recipientid", "deliverystatus")
    )
    if not (message_id and recipient and status):
        raise ReportError("needs CorrelationId, RecipientId and DeliveryStatus")
    detail = " ".join(
        str(fields[k])
        for k in ("smtpstatuscode", "enhancedsmtpstatuscode", "failurereason", "failuremessage")
        if fields.get(k) not in (None, "")
    )
    attempted = log_time(fields.get("timegenerated"))
    return make_report(
        event_id=f"la:{message_id}:{recipient}",
        message_id=str(message_id),
        recipient=str(recipient),
        status=str(status),
        detail=detail,
        attempted_at=attempted,
        hard_bounce=_flag(fields.get("ishardbounce")),
        internet_message_id=fields.get("internetmessageid"),
    )


def log_time(value: Any) -> datetime | None:
    """A time column as the query API or an export gives it (a datetime, or ISO 8601 text),
    or None when it is missing or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def to_engagement(row: Row) -> EngagementReport:
    """A row of ACSEmailUserEngagementOperational: an open ("view") or a click."""
    fields = {str(key).lower(): value for key, value in row.items()}
    message_id, recipient = fields.get("correlationid"), fields.get("recipientemailaddress")
    kind = str(fields.get("engagementtype") or "").strip().lower()
    if not (message_id and recipient) or kind not in ENGAGEMENTS:
        raise ReportError("needs CorrelationId, RecipientEmailAddress and EngagementType")
    return EngagementReport(
        message_id=str(message_id),
        recipient=address_key(str(recipient)),
        engagement=kind,
        context=str(fields.get("engagementcontext") or ""),
        user_agent=str(fields.get("useragent") or ""),
        occurred_at=log_time(fields.get("useractiontimestamp") or fields.get("timegenerated")),
    )
