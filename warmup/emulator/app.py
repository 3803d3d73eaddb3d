"""The emulator's HTTP surface (aiohttp): the ACS Email REST API plus ``/_emulator/*`` controls.

ACS routes:
    POST /emails:send?api-version=...          send (202, or an ACS-shaped error)
    GET  /emails/operations/{id}?api-version=  operation status
Controls (no auth; the emulator listens on loopback by default):
    GET   /_emulator/stats[?recipients=true]   counters, the ground truth for tests and benchmarks
    POST  /_emulator/reset                     clear stats, operations and quota windows
    GET   /_emulator/config                    the current config (secrets masked)
    PATCH /_emulator/config                    change any config field while running
    GET   /_emulator/health                    liveness
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from warmup.emulator.arm import ArmRoutes
from warmup.emulator.core import Emulator, Reply, dumps, error_reply
from warmup.emulator.delivery import EventDelivery
from warmup.emulator.log_analytics import LogAnalyticsRoutes
from warmup.emulator.postmaster import PostmasterRoutes
from warmup.emulator.validation import MAX_REQUEST_BYTES

EMULATOR_KEY = web.AppKey("emulator", Emulator)
DELIVERY_KEY = web.AppKey("delivery", EventDelivery)
_DROP = object()


def _respond(reply: Reply) -> web.Response:
    return web.Response(
        status=reply.status,
        body=dumps(reply.body),
        headers=reply.headers,
        content_type="application/json" if reply.body is not None else None,
    )


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering, as a lost network path would."""
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


async def _read_limited(request: web.Request) -> bytes | None:
    """The body, or None when it is larger than ACS accepts (read no further than needed)."""
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return None
    data = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            return None
    return bytes(data)


async def _before(request: web.Request, body: bytes) -> Reply | object | None:
    """Latency, drops, auth, api-version and injected faults shared by both ACS routes."""
    emulator = request.app[EMULATOR_KEY]
    config = emulator.config
    delay = config.latency_ms + emulator.rng.uniform(0, config.jitter_ms)
    if delay > 0:
        await asyncio.sleep(delay / 1000)
    fault = emulator.injected_fault()
    if fault == "drop":
        return _DROP
    denied = emulator.authenticate(
        request.method, request.raw_path, request.host, request.headers, body
    )
    if denied is not None:
        return denied
    bad_version = emulator.check_api_version(request.query.get("api-version"))
    if bad_version is not None:
        emulator.stats.rejected[bad_version.body["error"]["code"]] += 1  # type: ignore[index]
        return bad_version
    return emulator.fault_reply(fault) if fault is not None else None


async def send(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    emulator.stats.send_request_walls.append(time.time())
    body = await _read_limited(request)
    if body is None:
        emulator.stats.rejected["RequestEntityTooLarge"] += 1
        response = _respond(
            error_reply(413, "RequestEntityTooLarge", f"request exceeds {MAX_REQUEST_BYTES} bytes")
        )
        response.force_close()  # the unread rest of the body must not be parsed as a request
        return response
    early = await _before(request, body)
    if early is _DROP:
        return _drop(request)
    if isinstance(early, Reply):
        return _respond(early)
    reply = emulator.send(request.headers.get("Operation-Id"), body)
    if reply.status == 202 and emulator.rng.random() < emulator.config.drop_after_accept_rate:
        emulator.stats.injected["drop_after_accept"] += 1
        return _drop(request)
    return _respond(reply)


async def operation_status(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    early = await _before(request, await request.read())
    if early is _DROP:
        return _drop(request)
    if isinstance(early, Reply):
        return _respond(early)
    return _respond(emulator.status(request.match_info["operation_id"]))


async def stats(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    include = request.query.get("recipients", "").lower() in {"1", "true", "yes"}
    snapshot = emulator.stats.snapshot(include_recipients=include)
    snapshot["events_pending"] = request.app[DELIVERY_KEY].pending
    return web.json_response(snapshot)


async def reset(request: web.Request) -> web.Response:
    request.app[EMULATOR_KEY].reset()
    return web.json_response({"reset": True})


def _public_config(emulator: Emulator) -> dict[str, Any]:
    return emulator.config.model_dump(mode="json")  # SecretStr dumps as '**********'


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(_public_config(request.app[EMULATOR_KEY]))


async def patch_config(request: web.Request) -> web.Response:
    emulator = request.app[EMULATOR_KEY]
    try:
        changes = await request.json()
    except ValueError:
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    if not isinstance(changes, dict):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    unknown = sorted(set(changes) - set(type(emulator.config).model_fields))
    if unknown:
        return web.json_response({"error": f"unknown fields: {unknown}"}, status=400)
    try:
        emulator.reconfigure(changes)
    except ValidationError as exc:
        return web.json_response(
            {"error": exc.errors(include_input=False, include_url=False)}, status=400
        )
    return web.json_response(_public_config(emulator))


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def _run_delivery(app: web.Application) -> Any:
    task = asyncio.create_task(app[DELIVERY_KEY].run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def build_app(emulator: Emulator) -> web.Application:
    app = web.Application()
    app[EMULATOR_KEY] = emulator
    app[DELIVERY_KEY] = EventDelivery(emulator)
    app.cleanup_ctx.append(_run_delivery)
    app.add_routes(
        [
            web.post("/emails:send", send),
            web.get("/emails/operations/{operation_id}", operation_status),
            web.get("/_emulator/stats", stats),
            web.post("/_emulator/reset", reset),
            web.get("/_emulator/config", get_config),
            web.patch("/_emulator/config", patch_config),
            web.get("/_emulator/health", health),
            *ArmRoutes(emulator).routes(),
            *LogAnalyticsRoutes(emulator).routes(),
            *PostmasterRoutes(emulator).routes(),
        ]
    )
    return app
