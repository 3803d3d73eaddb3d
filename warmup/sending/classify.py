"""Turn what the SDK raises into one of four kinds of :class:`~warmup.errors.SendError`.

=========== =================================================== ==========================
kind        when                                                what the sender does
=========== =================================================== ==========================
throttled   HTTP 429                                            wait Retry-After, slow all
transient   5xx, 408, connection failed before the request left backoff with jitter, retry
ambiguous   the request left, no answer (read timeout, reset)   retry, same Operation-Id
permanent   any other 4xx (400/401/403/404/413...)              give up, record the error
=========== =================================================== ==========================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
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
    if isinstance(exc, ServiceRequestError):
        return TransientSendError(f"the request could not be sent ({type(exc).__name__})")
    return TransientSendError(f"unexpected transport error ({type(exc).__name__})")
