"""Pushes delivery reports to the configured webhook, as Event Grid does.

Before the first report to a URL it performs the subscription-validation handshake of the
chosen schema. Reports go out in batches after their delay, at least once: a failed call is
retried with backoff, except on 400/401/403/413, which Event Grid does not retry either.
Optional duplicates and delay jitter reproduce at-least-once, unordered delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from warmup.emulator import events
from warmup.emulator.config import DeliveryStatus, EventSchema
from warmup.emulator.core import Emulator, Engagement, Operation
from warmup.emulator.outcomes import compiled

log = logging.getLogger(__name__)

NOT_RETRIED = frozenset({400, 401, 403, 413})
MAX_ATTEMPTS = 8
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 10.0


@dataclass
class _Pending:
    event: dict[str, Any]
    attempts: int = 0


class EventDelivery:
    def __init__(self, emulator: Emulator, clock: Callable[[], float] = time.monotonic) -> None:
        self._emulator = emulator
        self._clock = clock
        self._heap: list[tuple[float, int, _Pending]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._validated: set[str] = set()
        emulator.on_accept = self.schedule

    @property
    def pending(self) -> int:
        return len(self._heap)

    def schedule(self, operation: Operation) -> None:
        config = self._emulator.config
        if config.webhook_url is None:
            # No webhook: opens and clicks still happen, for the engagement log to show.
            for address, outcome in operation.outcomes.items():
                if outcome.status is DeliveryStatus.DELIVERED:
                    self._engage(operation, address, self._clock())
            return
        rng = self._emulator.rng
        now = self._clock()
        for address, outcome in operation.outcomes.items():
            data = events.delivery_data(
                sender=operation.request.sender,
                recipient=address,
                message_id=operation.message_id,
                status=outcome.status.value,
                details=outcome.details,
                mail_server=outcome.mail_server,
                attempted_at=self._emulator.wall_time(),
                internet_message_id=operation.internet_message_id,
                lowercase=config.vary_event_spelling and rng.random() < 0.5,
            )
            event = events.envelope(config.event_schema, data)
            copies = 2 if rng.random() < config.duplicate_rate else 1
            self._emulator.stats.events_duplicated += copies - 1
            for _ in range(copies):
                due = now + config.event_delay_seconds
                due += rng.uniform(0, config.event_delay_jitter_seconds)
                self._push(due, _Pending(event))
            if outcome.status is DeliveryStatus.DELIVERED:
                self._engage(operation, address, now + config.event_delay_seconds)

    def _engage(self, operation: Operation, address: str, after: float) -> None:
        """Opens and clicks by the first engagement rule whose subject and address patterns
        match."""
        config = self._emulator.config
        rule = next(
            (
                r
                for r in config.engagement_rules
                if compiled(r.subject).search(operation.request.subject)
                and compiled(r.address).search(address)
            ),
            None,
        )
        rng = self._emulator.rng
        if rule is None or rng.random() >= rule.open_rate:
            return
        kinds = ["view"] + (["click"] if rng.random() < rule.click_rate else [])
        for offset, kind in enumerate(kinds):
            context = "https://example.com/offer" if kind == "click" else ""
            at = self._emulator.wall_time()
            self._emulator.engagement_log.append(
                Engagement(at, operation.message_id, address, kind, context)
            )
            self._emulator.stats.engagements[kind] += 1
            if config.webhook_url is None:
                continue
            data = events.engagement_data(
                sender=operation.request.sender,
                recipient=address,
                message_id=operation.message_id,
                kind=kind,
                context=context,
                at=at,
            )
            event = events.envelope(config.event_schema, data, event_type=events.ENGAGEMENT_REPORT)
            self._push(after + 0.05 * (offset + 1), _Pending(event))

    def _push(self, due: float, pending: _Pending) -> None:
        heapq.heappush(self._heap, (due, next(self._order), pending))
        self._wake.set()

    def _take_due(self, limit: int) -> list[_Pending]:
        now = self._clock()
        batch: list[_Pending] = []
        while self._heap and self._heap[0][0] <= now and len(batch) < limit:
            batch.append(heapq.heappop(self._heap)[2])
        return batch

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                config = self._emulator.config
                batch = self._take_due(config.event_batch_size)
                if batch and config.webhook_url is not None:
                    await self._deliver(session, config.webhook_url, config.event_schema, batch)
                    continue
                self._wake.clear()
                delay = self._heap[0][0] - self._clock() if self._heap else None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _deliver(
        self,
        session: aiohttp.ClientSession,
        url: str,
        schema: EventSchema,
        batch: list[_Pending],
    ) -> None:
        stats = self._emulator.stats
        status: int | None = None
        try:
            if url not in self._validated and await self._handshake(session, url, schema):
                self._validated.add(url)
            if url in self._validated:
                payload = [pending.event for pending in batch]
                content_type = (
                    events.EVENT_GRID_CONTENT_TYPE
                    if schema is EventSchema.EVENT_GRID
                    else events.CLOUD_EVENTS_BATCH_CONTENT_TYPE
                )
                headers = {"Content-Type": content_type, "aeg-event-type": "Notification"}
                async with session.post(url, data=json.dumps(payload), headers=headers) as answer:
                    status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.debug("event delivery to the webhook failed: %s", type(exc).__name__)
        if status is not None and 200 <= status < 300:
            stats.events_delivered += len(batch)
            return
        if status in NOT_RETRIED:
            stats.events_dead_lettered += len(batch)
            return
        stats.delivery_failures += 1
        for pending in batch:
            pending.attempts += 1
            if pending.attempts >= MAX_ATTEMPTS:
                stats.events_dead_lettered += 1
                continue
            backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (pending.attempts - 1))
            self._push(self._clock() + backoff, pending)

    async def _handshake(
        self, session: aiohttp.ClientSession, url: str, schema: EventSchema
    ) -> bool:
        self._emulator.stats.handshakes += 1
        if schema is EventSchema.CLOUD_EVENTS:
            origin = "eventgrid.azure.net"
            headers = {"WebHook-Request-Origin": origin, "WebHook-Request-Rate": "120"}
            async with session.options(url, headers=headers) as answer:
                allowed = answer.headers.get("WebHook-Allowed-Origin", "")
                return answer.status == 200 and allowed in {origin, "*"}
        code = secrets.token_hex(16)
        body = events.validation_event(code, f"{self._emulator.base_url}/_emulator/validate")
        headers = {"Content-Type": "application/json", "aeg-event-type": "SubscriptionValidation"}
        async with session.post(url, data=json.dumps(body), headers=headers) as answer:
            if answer.status != 200:
                return False
            try:
                reply = await answer.json(content_type=None)
            except (json.JSONDecodeError, aiohttp.ContentTypeError):
                return False
            return isinstance(reply, dict) and reply.get("validationResponse") == code
