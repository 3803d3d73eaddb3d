"""Send one message through ACS under the retry policy, and read an operation's status.

The Operation-Id is chosen by the caller (derived from the ledger row) and reused on every
attempt, so a retry after an ambiguous failure cannot create a second email on purpose.
``Sender`` wraps the sync client, ``AsyncSender`` the ``.aio`` one; they share everything but
the awaits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from azure.core.rest import HttpRequest

from warmup.sending.classify import classify
from warmup.sending.client import AcsClient, AsyncAcsClient
from warmup.sending.retry import RetryPolicy, ThrottleHook, async_retrying, retrying

TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Canceled"})


@dataclass(frozen=True)
class Accepted:
    """ACS took the message (HTTP 202). ``message_id`` is what delivery reports refer to."""

    message_id: str
    operation_id: str
    attempts: int


@dataclass(frozen=True)
class OperationStatus:
    message_id: str
    status: str  # NotStarted | Running | Succeeded | Failed | Canceled
    error: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


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


class Sender:
    def __init__(
        self,
        client: AcsClient,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        throttle_hook: ThrottleHook | None = None,
    ) -> None:
        self._client = client
        self._policy = policy
        self._sleep = sleep
        self._clock = clock
        self._throttle_hook = throttle_hook

    def send(self, message: Mapping[str, Any], operation_id: str) -> Accepted:
        """Send until accepted; raise the classified :class:`SendError` when giving up."""
        policy = retrying(
            self._policy,
            what=f"send {operation_id}",
            sleep=self._sleep,
            throttle_hook=self._throttle_hook,
        )
        for attempt in policy:
            with attempt:
                try:
                    poller = self._client.sdk.begin_send(
                        dict(message),  # a dict: bytes break the SDK's HMAC policy
                        operation_id=operation_id,
                        polling=False,
                        **self._client.call_options,
                    )
                    body = poller.result()
                except AzureError as exc:
                    raise classify(exc) from exc
                return _accepted(body, operation_id, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def status(self, message_id: str) -> OperationStatus:
        policy = retrying(self._policy, what=f"status of {message_id}", sleep=self._sleep)
        for attempt in policy:
            with attempt:
                try:
                    response = self._client.sdk.send_request(
                        _status_request(message_id, self._client.api_version),
                        **self._client.call_options,
                    )
                except AzureError as exc:
                    raise classify(exc) from exc
                return _parse_status(response, message_id)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def wait_for_status(
        self, message_id: str, *, timeout: float = 120.0, interval: float = 1.0
    ) -> OperationStatus:
        """Poll until the operation is terminal or ``timeout`` passes (then the last status).

        Polling costs status-GET quota, which is far below the send quota: use it for single
        messages (``warmup send-test``), never per email in bulk.
        """
        deadline = self._clock() + timeout
        while True:
            current = self.status(message_id)
            if current.terminal or self._clock() + interval > deadline:
                return current
            self._sleep(interval)


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
    ) -> Accepted:
        """Send until accepted. ``before_retry`` runs before every attempt after the first: the
        pipeline takes a fresh limiter permit there (and may raise to give the row back)."""
        policy = async_retrying(
            self._policy,
            what=f"send {operation_id}",
            sleep=self._sleep,
            throttle_hook=self._throttle_hook,
        )
        async for attempt in policy:
            with attempt:
                if attempt.retry_state.attempt_number > 1 and before_retry is not None:
                    await before_retry()
                try:
                    poller = await self._client.sdk.begin_send(
                        dict(message),
                        operation_id=operation_id,
                        polling=False,
                        **self._client.call_options,
                    )
                    body = await poller.result()
                except AzureError as exc:
                    raise classify(exc) from exc
                return _accepted(body, operation_id, attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity re-raises the last error")

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
