"""The Log Analytics query API for ``ACSEmailStatusUpdateOperational``, as ACS's diagnostic
settings fill it: one row per recipient of every accepted message, ``TimeGenerated`` when the
outcome was known (acceptance + the event delay).

    POST /v1/workspaces/{workspace}/query    {"query": KQL, "timespan": ...}

The emulator runs no KQL engine: it answers the incremental query `warmup feedback pull`
makes (a ``TimeGenerated``/``_ItemId`` watermark, ascending order, ``take N``) and refuses any
other with 400, as the service refuses a query it cannot parse. ``synthetic_log_rows`` adds
rows for messages of no campaign, to page through a large table cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from warmup.emulator.arm import arm_error
from warmup.emulator.config import DeliveryStatus
from warmup.emulator.core import Emulator

TABLE = "ACSEmailStatusUpdateOperational"
ENGAGEMENT_TABLE = "ACSEmailUserEngagementOperational"
ENGAGEMENT_COLUMNS = (
    ("TimeGenerated", "datetime"),
    ("_ItemId", "string"),
    ("CorrelationId", "string"),
    ("RecipientEmailAddress", "string"),
    ("EngagementType", "string"),
    ("EngagementContext", "string"),
    ("UserAgent", "string"),
)
COLUMNS = (
    ("TimeGenerated", "datetime"),
    ("_ItemId", "string"),
    ("CorrelationId", "string"),
    ("RecipientId", "string"),
    ("DeliveryStatus", "string"),
    ("SmtpStatusCode", "string"),
    ("EnhancedSmtpStatusCode", "string"),
    ("FailureReason", "string"),
    ("IsHardBounce", "bool"),
)
_AFTER = re.compile(
    r"TimeGenerated > datetime\((?P<after>[^)]+)\)"
    r'(?: or \(TimeGenerated == datetime\([^)]+\) and _ItemId > "(?P<item>[^"]*)"\))?'
)
_UNTIL = re.compile(r"TimeGenerated <= datetime\((?P<until>[^)]+)\)")
_TAKE = re.compile(r"\|\s*take (?P<take>\d+)")


@dataclass(frozen=True)
class LogRow:
    at: datetime
    item: str
    correlation: str
    recipient: str
    status: str
    details: str

    def values(self) -> list[Any]:
        code, _, rest = self.details.partition(" ")
        enhanced, _, reason = rest.partition(" ")
        failed = self.status != DeliveryStatus.DELIVERED.value
        return [
            self.at.isoformat().replace("+00:00", "Z"),
            self.item,
            self.correlation,
            self.recipient,
            self.status,
            code if failed and code[:1].isdigit() else "",
            enhanced if failed and enhanced[:1].isdigit() else "",
            (reason or self.details) if failed else "",
            self.status == DeliveryStatus.BOUNCED.value,
        ]


def engagement_rows(emulator: Emulator) -> list[tuple[datetime, str, list[Any]]]:
    """(TimeGenerated, _ItemId, values) of every open and click, in that order."""
    rows = []
    for n, found in enumerate(emulator.engagement_log):
        item = f"{found.message_id}:{found.recipient}:{found.kind}:{n}"
        at = found.at.isoformat().replace("+00:00", "Z")
        values = [
            at,
            item,
            found.message_id,
            found.recipient,
            found.kind,
            found.context,
            "emulator",
        ]
        rows.append((found.at, item, values))
    return sorted(rows, key=lambda r: (r[0], r[1]))


def log_rows(emulator: Emulator) -> list[LogRow]:
    """Every row of the table now, in (TimeGenerated, _ItemId) order."""
    config = emulator.config
    delay = timedelta(seconds=config.event_delay_seconds)
    rows = [
        LogRow(
            at=operation.accepted_wall + delay,
            item=f"{operation.message_id}:{address}",
            correlation=operation.message_id,
            recipient=address,
            status=fate.status.value,
            details=fate.details,
        )
        for operation in emulator.operations.values()
        for address, fate in operation.outcomes.items()
    ]
    rows += [
        LogRow(
            # From six hours before the emulator started; several rows share each second.
            at=emulator.started_wall - timedelta(hours=6) + timedelta(seconds=n // 7),
            item=f"synthetic-{n:08d}",
            correlation=f"synthetic-{n // 3:08d}",
            recipient=f"user{n}@synthetic.example",
            status=DeliveryStatus.DELIVERED.value,
            details="",
        )
        for n in range(config.synthetic_log_rows)
    ]
    return sorted(rows, key=lambda r: (r.at, r.item))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))


class LogAnalyticsRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/workspaces/{workspace}/query", self.query)]

    async def query(self, request: web.Request) -> web.Response:
        return await _query(self._emulator, request)


async def _query(emulator: Emulator, request: web.Request) -> web.Response:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        return arm_error(401, "InvalidAuthenticationToken", "Authentication failed.")
    emulator.stats.log_queries += 1
    if emulator.injected_fault() == "429":
        return web.json_response(
            {"error": {"code": "TooManyRequests", "message": "Too many requests."}},
            status=429,
            headers={"Retry-After": str(emulator.config.fault_retry_after_seconds)},
        )
    try:
        body = await request.json()
        kql = str(body["query"])
    except (ValueError, KeyError, TypeError):
        return _bad("the body must be JSON with a query")
    after, until, take = _AFTER.search(kql), _UNTIL.search(kql), _TAKE.search(kql)
    table = kql.split("\n", 1)[0].strip()
    if table not in (TABLE, ENGAGEMENT_TABLE) or after is None or until is None or take is None:
        return _bad("the emulator answers warmup's incremental query only")
    start, item, end = _instant(after["after"]), after["item"], _instant(until["until"])

    def wanted(at: datetime, row_item: str) -> bool:
        later = at > start or (item is not None and at == start and row_item > item)
        return later and at <= end

    columns: tuple[tuple[str, str], ...]
    if table == TABLE:
        columns = COLUMNS
        rows = [r.values() for r in log_rows(emulator) if wanted(r.at, r.item)]
    else:
        columns = ENGAGEMENT_COLUMNS
        rows = [values for at, i, values in engagement_rows(emulator) if wanted(at, i)]
    return web.json_response(
        {
            "tables": [
                {
                    "name": "PrimaryResult",
                    "columns": [{"name": n, "type": t} for n, t in columns],
                    "rows": rows[: int(take["take"])],
                }
            ]
        }
    )


def _bad(message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": "BadArgumentError", "message": message}}, status=400
    )
