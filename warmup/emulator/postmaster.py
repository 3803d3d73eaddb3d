"""Gmail Postmaster Tools API v1 routes, as Google's client calls them, on the days a test seeds
(``postmaster_days``), and the OAuth token endpoint its credentials refresh against:

    POST /token                                          any grant → postmaster_token
    GET  /v1/domains                                     the seeded domains
    GET  /v1/domains/{domain}/trafficStats               startDate.* ≤ day < endDate.*, paged
    GET  /v1/domains/{domain}/trafficStats/{YYYYMMDD}    one day

Point a service account key's ``token_uri`` at ``{url}/token`` (an authorised user's file always
refreshes at Google: give it the token itself) and WARMUP_POSTMASTER_ENDPOINT at the
emulator's URL. A missing or other bearer token answers 401, ``postmaster_forbidden`` 403,
an unknown domain 404 (Google's error shape); a domain's days are as the test seeded them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web

from warmup.emulator.core import Emulator


def google_error(status: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": status, "message": message, "status": reason}}, status=status
    )


def _date(query: Any, prefix: str) -> date | None:
    parts = [query.get(f"{prefix}.{part}") for part in ("year", "month", "day")]
    if not any(parts):
        return None
    try:
        return date(*(int(p) for p in parts))
    except (TypeError, ValueError):
        return None


def _day_of(item: dict[str, Any]) -> str:
    return str(item.get("name", "")).rpartition("/")[2]


class PostmasterRoutes:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/token", self.token),
            web.get("/v1/domains", self.domains),
            web.get("/v1/domains/{domain}/trafficStats", self.list_days),
            web.get("/v1/domains/{domain}/trafficStats/{day}", self.get_day),
        ]

    async def token(self, request: web.Request) -> web.Response:
        await request.read()
        if not self._emulator.config.postmaster_grant:
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."},
                status=400,
            )
        return web.json_response(
            {
                "access_token": self._emulator.config.postmaster_token,
                "expires_in": 3600,
                "token_type": "Bearer",
            }
        )

    def _refused(self, request: web.Request) -> web.Response | None:
        config = self._emulator.config
        header = request.headers.get("Authorization", "")
        if header != f"Bearer {config.postmaster_token}":
            return google_error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        if config.postmaster_forbidden:
            return google_error(403, "PERMISSION_DENIED", "The caller does not have permission")
        self._emulator.stats.postmaster_requests += 1
        return None

    async def domains(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        names = sorted(self._emulator.config.postmaster_days)
        return web.json_response(
            {"domains": [{"name": f"domains/{n}", "permission": "OWNER"} for n in names]}
        )

    def _days(self, request: web.Request) -> list[dict[str, Any]] | web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        domain = request.match_info["domain"]
        days = self._emulator.config.postmaster_days.get(domain)
        if days is None:
            return google_error(404, "NOT_FOUND", f"Requested entity was not found: {domain}")
        return sorted(days, key=_day_of)

    async def list_days(self, request: web.Request) -> web.Response:
        days = self._days(request)
        if isinstance(days, web.Response):
            return days
        start, end = _date(request.query, "startDate"), _date(request.query, "endDate")
        chosen = [
            item
            for item in days
            if (start is None or _day_of(item) >= f"{start:%Y%m%d}")
            and (end is None or _day_of(item) < f"{end:%Y%m%d}")
        ]
        size = min(
            int(request.query.get("pageSize", 200)), self._emulator.config.postmaster_page_size
        )
        offset = int(request.query.get("pageToken", "0") or 0)
        page: dict[str, Any] = {"trafficStats": chosen[offset : offset + size]}
        if offset + size < len(chosen):
            page["nextPageToken"] = str(offset + size)
        return web.json_response(page)

    async def get_day(self, request: web.Request) -> web.Response:
        days = self._days(request)
        if isinstance(days, web.Response):
            return days
        wanted = request.match_info["day"]
        for item in days:
            if _day_of(item) == wanted:
                return web.json_response(item)
        return google_error(404, "NOT_FOUND", f"Requested entity was not found: {wanted}")
