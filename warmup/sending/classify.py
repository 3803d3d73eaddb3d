"""Turn what the SDK raises into one of four kinds of :class:`~warmup.errors.SendError`.

=========== =================================================== ==========================
kind        when                                                what the sender does
=========== =================================================== ==========================
throttled   HTTP 429                                            wait Retry-After, slow all
transient   5xx, 408, no connection could be made at all        backoff with jitter, retry
ambiguous   connected, then no answer (timeout, reset, dropped) ask ACS, then maybe resend
permanent   any other 4xx (400/401/403/404/413...)              give up, record the error
=========== =================================================== ==========================
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime

import aiohttp
import requests
import urllib3
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
)

from warmup.errors import (
    AmbiguousSendError,
    PermanentSendError,
    SendError,
    ThrottledError,
    TransientSendError,
)


def parse_retry_after(
    headers: Mapping[str, str], now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``x-ms-retry-after-ms`` or ``Retry-After``.

    ``Retry-After`` may be delta-seconds or an HTTP date. Unreadable values count as absent.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if name in lowered:
            try:
                return max(0.0, float(lowered[name]) / 1000)
            except ValueError:
                pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


def _headers(exc: HttpResponseError) -> Mapping[str, str]:
    # azure-core types ``response`` loosely; every transport's response has ``headers``.
    headers: Mapping[str, str] = getattr(exc.response, "headers", None) or {}
    return headers


def _error_code(exc: HttpResponseError) -> str | None:
    if exc.error is not None and exc.error.code:
        return str(exc.error.code)
    code = _headers(exc).get("x-ms-error-code")
    return str(code) if code else None


def _summary(status: int | None, code: str | None, exc: AzureError) -> str:
    message = exc.error.message if isinstance(exc, HttpResponseError) and exc.error else None
    parts = [f"HTTP {status}" if status else type(exc).__name__]
    if code:
        parts.append(code)
    if message:
        parts.append(str(message))
    return ": ".join(parts)


def classify(exc: AzureError, now: Callable[[], float] = time.time) -> SendError:
    """The :class:`SendError` for an SDK exception. The text holds no secret: only the status,
    the ACS error code and the service's message."""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = int(exc.status_code)
        code = _error_code(exc)
        text = _summary(status, code, exc)
        if status == 429:
            retry_after = parse_retry_after(_headers(exc), now)
            return ThrottledError(text, retry_after=retry_after, code=code)
        if status >= 500 or status == 408:
            return TransientSendError(text, status=status, code=code)
        return PermanentSendError(text, status=status, code=code)
    if isinstance(exc, ClientAuthenticationError):
        # No HTTP status: the credential could not get a token (Entra ID misconfigured).
        return PermanentSendError(f"could not authenticate: {type(exc).__name__}")
    if isinstance(exc, ServiceResponseError):
        return AmbiguousSendError(f"no answer after the request was sent ({type(exc).__name__})")
    if isinstance(exc, ServiceRequestError) and never_connected(exc):
        return TransientSendError(f"the request could not be sent ({_cause_name(exc)})")
    # azure-core calls a connection dropped after the request went out (aiohttp's
    # ServerDisconnectedError, a reset) a ServiceRequestError too: ACS may have it.
    return AmbiguousSendError(f"no answer; the request may have arrived ({_cause_name(exc)})")


# Errors raised before a connection exists: nothing can have reached ACS.
_BEFORE_CONNECTING: tuple[type[BaseException], ...] = (
    aiohttp.ClientConnectorError,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    requests.exceptions.ConnectTimeout,
    ConnectionRefusedError,
    socket.gaierror,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "inner_exception", None)]
        todo += [getattr(current, "reason", None)]  # urllib3's MaxRetryError
        todo += [arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException)]


def never_connected(exc: BaseException) -> bool:
    """True when the failure happened before any connection to ACS was made."""
    return isinstance(exc, ServiceRequestTimeoutError) or any(
        isinstance(cause, _BEFORE_CONNECTING) for cause in _chain(exc)
    )


def _cause_name(exc: BaseException) -> str:
    inner = getattr(exc, "inner_exception", None)
    return type(inner).__name__ if isinstance(inner, BaseException) else type(exc).__name__
