"""``/webhooks/acs``: where Event Grid delivers ACS delivery reports.

Both schemas and both handshakes: an Event Grid ``SubscriptionValidationEvent`` is answered with
its code; a CloudEvents ``OPTIONS`` with ``WebHook-Allowed-Origin``. Every call must carry one of
the configured secrets (``?code=`` or the ``X-Warmup-Webhook-Secret`` header), compared in
constant time; two may be configured at once for rotation. Nothing is recorded for a call that
fails a check: 401 (no or wrong secret), 413 (too large), 415 (not JSON), 400 (not delivery
reports) — Event Grid does not retry those. Reports are stored at once (de-duplicated); judging
health is the feedback task's work, every few seconds.

Each event stands alone: one that is invalid (an overlong field, a NUL where none can be) or
that the store refuses is left out, logged and counted (``invalid``, ``unstorable`` in the
answer; ``warmup_webhook_events_refused_total`` in /metrics), and the rest of its batch is
kept. A 400 only when nothing in the body is usable.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from warmup.api.services import services
from warmup.feedback.reports import ReportError, events_of, sort_events, validation_code
from warmup.tracing import span

JSON_TYPES = (
    "application/json",
    "application/cloudevents+json",
    "application/cloudevents-batch+json",
)
log = logging.getLogger(__name__)
router = APIRouter()


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _authorised(request: Request, secrets: list[bytes]) -> bool:
    given = (
        request.query_params.get("code") or request.headers.get("X-Warmup-Webhook-Secret") or ""
    ).encode()
    # Compare with every secret, always: the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(given, secret) for secret in secrets]
    return bool(given) and any(matches)


async def _body(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


def _refused(request: Request) -> JSONResponse | None:
    secrets = [s.encode() for s in services(request).settings.webhook_secret_values()]
    if not secrets:
        # No secret configured: refuse everything rather than run an open endpoint.
        return _problem(503, "the webhook is not configured (WARMUP_WEBHOOK_SECRETS)")
    if not _authorised(request, secrets):
        return _problem(401, "missing or wrong webhook secret")
    return None


@router.options("/webhooks/acs")
async def handshake(request: Request) -> Response:
    if (refused := _refused(request)) is not None:
        return refused
    origin = request.headers.get("WebHook-Request-Origin")
    if not origin:
        return _problem(400, "WebHook-Request-Origin is required")
    return Response(
        status_code=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"}
    )


@router.post("/webhooks/acs")
async def receive(request: Request) -> Response:
    if (refused := _refused(request)) is not None:
        return refused
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        return _problem(415, f"content type must be one of {', '.join(JSON_TYPES)}")
    found = services(request)
    limit = found.settings.webhook_max_bytes
    raw = await _body(request, limit)
    if raw is None:
        return _problem(413, f"body larger than {limit} bytes")
    try:
        body: Any = json.loads(raw)
        events = events_of(body)
        code = validation_code(events)
        if code is not None:
            return JSONResponse({"validationResponse": code})
        batch = sort_events(events)
    except (ValueError, ReportError) as exc:  # JSONDecodeError is a ValueError
        return _problem(400, str(exc))
    except RecursionError:  # the parser's own depth limit: "[[[[..." is refused, not a 500
        return _problem(400, "the body is nested too deeply")
    if batch.invalid and not batch.usable:
        # Nothing in it can be used: a bad call, answered 4xx, and nothing is recorded.
        return _problem(400, "; ".join(batch.invalid[:10]))
    for problem in batch.invalid:
        log.warning("webhook: skipped an unusable event (%s)", problem)
    found.refused_events["invalid"] += len(batch.invalid)
    store = found.stores.feedback
    with span(
        "warmup.webhook", reports=len(batch.reports), engagements=len(batch.engagements)
    ) as current:
        result = await run_in_threadpool(
            store.ingest, batch.reports, found.clock.now(), batch.engagements
        )
        if current is not None:
            current.set_attribute("matched", result.matched)
            current.set_attribute("duplicates", result.duplicates)
    found.refused_events["unstorable"] += result.unstorable
    return JSONResponse(
        {
            "received": result.received,
            "duplicates": result.duplicates,
            "matched": result.matched,
            "unmatched": result.unmatched,
            "ignored": result.ignored + sum(batch.ignored_types.values()),
            "engagements": result.engagements,
            "invalid": len(batch.invalid),
            "unstorable": result.unstorable,
            "ignored_types": batch.ignored_types,
        }
    )
