"""Send one message through ACS under the retry policy, and read an operation's status.

The Operation-Id is chosen by the caller (stored on the ledger row) and reused on every
attempt. A request that may have reached ACS (no answer came) is never posted again on a guess:
``AsyncSender`` raises, and the pipeline leaves the row ``verifying`` for the reconciler to ask
within the status-GET budget. Every 429 goes to ``throttle_hook`` at once, whether or not it is
retried here, so the limiter holds every worker back for the whole Retry-After.
``AsyncSender`` wraps the ``.aio`` client: the workers, ``send-test`` and ``campaign test`` all
send through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.rest import HttpRequest

from warmup.errors import AmbiguousSendError, PermanentSendError, SendError, ThrottledError
from warmup.sending.classify import classify
from warmup.sending.client import AsyncAcsClient
from warmup.sending.retry import (
    RetryPolicy,
    ThrottleHook,
    async_retrying,
    is_retryable,
)
from warmup.sending.wire import Wire
from warmup.tracing import span

TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Canceled"})


@dataclass(frozen=True)
class Accepted:
    """ACS took the message (HTTP 202, SMTP 250). ``message_id`` is what delivery reports refer
    to. ``note`` says when taking it for accepted is a judgement, not an answer (see smtp.py)."""

    message_id: str
    operation_id: str
    attempts: int
    note: str | None = None


class MessageSender(Protocol):
    """What the pipeline sends through: the REST API (:class:`AsyncSender`) or SMTP."""

    async def send(
        self,
        message: Mapping[str, Any],
        operation_id: str,
        *,
        before_retry: Callable[[], Awaitable[None]] | None = None,
        wire: Wire | None = None,
    ) -> Accepted: ...


async def send_with_retries(
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], Awaitable[None]],
    post: Callable[[int], Awaitable[Accepted]],
    before_retry: Callable[[], Awaitable[None]] | None,
) -> Accepted:
    """``post(attempt number)`` under the retry policy; ``before_retry`` runs before every
    attempt after the first (the pipeline takes a fresh limiter permit there).

    The first attempt is made before tenacity is set up: almost every send succeeds at once,
    and building the retry state for each was 4 % of a send process's event loop. A first
    attempt that fails retryably is handed to tenacity as its own first attempt's outcome, so
    waits, stops and logs are the policy's, exactly as if tenacity had made it."""
    try:
        return await post(1)
    except Exception as error:
        if not is_retryable(error):
            raise
        first = error
    async for attempt in async_retrying(policy, what=what, sleep=sleep):
        with attempt:
            number = attempt.retry_state.attempt_number
            if number == 1:
                raise first
            if before_retry is not None:
                await before_retry()
            return await post(number)
    raise AssertionError("unreachable: tenacity re-raises the last error")


@dataclass(frozen=True)
class OperationStatus:
    message_id: str
    status: str  # NotStarted | Running | Succeeded | Failed | Canceled
    error: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


def _classified(exc: AzureError, throttle_hook: ThrottleHook | None) -> SendError:
    error = classify(exc)
    if isinstance(error, ThrottledError) and throttle_hook is not None:
        throttle_hook(error)  # every 429, retried here or not: all workers must hold back
    return error


def answered(error: SendError, wire: Wire | None) -> SendError:
    """Tell ``wire`` that an attempt came back refused, unless it may still have arrived."""
    if wire is not None and not isinstance(error, AmbiguousSendError):
        wire.refused()
    return error


def _unknown(error: PermanentSendError) -> bool:
    return error.status == 404


def _accepted(body: Mapping[str, Any], operation_id: str, attempts: int) -> Accepted:
    return Accepted(str(body.get("id") or operation_id), operation_id, attempts)


def _status_request(message_id: str, api_version: str) -> HttpRequest:
    return HttpRequest(
        "GET", f"/emails/operations/{message_id}", params={"api-version": api_version}
    )


def _parse_status(response: Any, message_id: str) -> OperationStatus:
    if response.status_code != 200:
        raise classify(HttpResponseError(response=response))
    body = response.json()
    error = body.get("error")
    detail = f"{error.get('code')}: {error.get('message')}" if isinstance(error, dict) else None
    return OperationStatus(str(body.get("id", message_id)), str(body.get("status")), detail)


class AsyncSender:
    def __init__(
        self,
        client: AsyncAcsClient,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        throttle_hook: ThrottleHook | None = None,
    ) -> None:
        self._client = client
        self._policy = policy
        self._sleep = sleep
        self._throttle_hook = throttle_hook

    async def send(
        self,
        message: Mapping[str, Any],
        operation_id: str,
        *,
        before_retry: Callable[[], Awaitable[None]] | None = None,
        wire: Wire | None = None,
    ) -> Accepted:
        """Send until accepted. ``before_retry`` runs before every attempt after the first: the
        pipeline takes a fresh limiter permit there (and may raise to give the row back);
        ``wire`` hears when each attempt leaves and when it comes back refused."""
        with span("acs.send", operation_id=operation_id) as current:
            accepted = await self._send(message, operation_id, before_retry, wire)
            if current is not None:
                current.set_attribute("attempts", accepted.attempts)
            return accepted

    async def _send(
        self,
        message: Mapping[str, Any],
        operation_id: str,
        before_retry: Callable[[], Awaitable[None]] | None,
        wire: Wire | None,
    ) -> Accepted:
        async def post(attempt: int) -> Accepted:
            if wire is not None:
                await wire.leaving()
            try:
                poller = await self._client.sdk.begin_send(
                    dict(message),
                    operation_id=operation_id,
                    polling=False,
                    **self._client.call_options,
                )
                body = await poller.result()
            except AzureError as exc:
                raise answered(_classified(exc, self._throttle_hook), wire) from exc
            return _accepted(body, operation_id, attempt)

        return await send_with_retries(
            self._policy,
            what=f"send {operation_id}",
            sleep=self._sleep,
            post=post,
            before_retry=before_retry,
        )

    async def lookup(self, operation_id: str) -> OperationStatus | None:
        """The operation as ACS knows it, or ``None`` when ACS does not know the id."""
        try:
            return await self.status(operation_id)
        except PermanentSendError as exc:
            if _unknown(exc):
                return None
            raise

    async def status(self, message_id: str) -> OperationStatus:
        policy = async_retrying(self._policy, what=f"status of {message_id}", sleep=self._sleep)
        async for attempt in policy:
            with attempt:
                try:
                    response = await self._client.sdk.send_request(
                        _status_request(message_id, self._client.api_version),
                        **self._client.call_options,
                    )
                except AzureError as exc:
                    raise classify(exc) from exc
                return _parse_status(response, message_id)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def wait_for_status(
        self, message_id: str, *, within: float = 120.0, interval: float = 1.0
    ) -> OperationStatus:
        """Poll until the operation is terminal or ``within`` seconds pass (then the last
        status: not an error, the caller says what a status still running means).

        Polling costs status-GET quota, which is far below the send quota: use it for single
        messages (``warmup send-test``), never per email in bulk.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            current = await self.status(message_id)
            if current.terminal or loop.time() + interval > deadline:
                return current
            await self._sleep(interval)
