"""The optional client allow-list: only listed networks reach the API, dashboard and metrics.

Paths with their own protection stay open to everyone: Event Grid calls the webhook from Azure's
addresses, recipients click unsubscribe links from anywhere, and probes read /healthz, /readyz.
The client address is the connection's, or X-Forwarded-For's when uvicorn trusts the proxy.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Network, IPv6Network

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

OPEN_PREFIXES = ("/webhooks/", "/u/", "/healthz", "/readyz")
# What only operators and Prometheus need: the figures and the API's own description.
ADMIN_PATHS = ("/metrics", "/docs", "/openapi.json")


class ClientAllowList:
    """Listed networks only, for every path but the open ones (or, with ``paths``, for those
    paths alone)."""

    def __init__(
        self,
        app: ASGIApp,
        networks: list[IPv4Network | IPv6Network],
        paths: tuple[str, ...] | None = None,
        refusal: str = "this address may not use the API",
    ) -> None:
        self.app = app
        self.networks = networks
        self.paths = paths
        self.refusal = refusal

    def _guarded(self, path: str) -> bool:
        if self.paths is not None:
            return path.startswith(self.paths)
        return not path.startswith(OPEN_PREFIXES)

    def _allowed(self, host: str | None) -> bool:
        if host is None:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:  # e.g. "testclient": not an address, so not in any network
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._guarded(scope["path"]):
            client = scope.get("client")
            if not self._allowed(client[0] if client else None):
                response = JSONResponse({"error": self.refusal}, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RefuseNul:
    """A NUL character in the path or query is refused with 400 before any route runs.

    No name, address or id contains one, and PostgreSQL cannot store one: letting it through
    would turn a typo or a probe into a 500 from the database driver.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = bytes(scope.get("query_string", b"")).lower()
            if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
                response = JSONResponse(
                    {"error": "a NUL character is not allowed in a path or query"}, status_code=400
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class HeadAsGet:
    """HEAD answers wherever GET does (RFC 9110 9.3.2): the same status and headers, no body.

    FastAPI routes declared with ``get`` answer only GET, so monitors and link checkers that
    ask HEAD got 405. A HEAD request runs as GET here and its body is dropped on the way out.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
