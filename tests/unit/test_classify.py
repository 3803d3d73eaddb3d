from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from warmup.errors import (
    AmbiguousSendError,
    PermanentSendError,
    ThrottledError,
    TransientSendError,
)
from warmup.sending.classify import classify, parse_retry_after


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}
        self.reason = "reason"
        self.request = None

    def text(self) -> str:
        return ""

    def body(self) -> bytes:
        return b""


def http_error(status: int, headers: dict[str, str] | None = None) -> HttpResponseError:
    return HttpResponseError(response=FakeResponse(status, headers))  # type: ignore[arg-type]


def test_429_is_throttled_with_its_retry_after() -> None:
    error = classify(http_error(429, {"Retry-After": "17", "x-ms-error-code": "TooManyRequests"}))
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 17
    assert error.code == "TooManyRequests"


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_transient(status: int) -> None:
    assert isinstance(classify(http_error(status)), TransientSendError)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_client_errors_are_permanent(status: int) -> None:
    error = classify(http_error(status))
    assert isinstance(error, PermanentSendError)
    assert error.status == status


def test_connection_failure_before_sending_is_transient() -> None:
    refused = ServiceRequestError("refused", error=ConnectionRefusedError(111, "refused"))
    assert isinstance(classify(refused), TransientSendError)
    connect = aiohttp.ClientConnectorError(None, OSError(111, "refused"))  # type: ignore[arg-type]
    assert isinstance(classify(ServiceRequestError("x", error=connect)), TransientSendError)


def test_a_connection_dropped_after_the_request_left_is_ambiguous() -> None:
    # azure-core calls this a ServiceRequestError as well, but ACS may have the message.
    dropped = ServiceRequestError("x", error=aiohttp.ServerDisconnectedError())
    assert isinstance(classify(dropped), AmbiguousSendError)
    assert isinstance(classify(ServiceRequestError("no cause known")), AmbiguousSendError)


def test_no_answer_after_sending_is_ambiguous() -> None:
    assert isinstance(classify(ServiceResponseError("read timed out")), AmbiguousSendError)


def test_token_failure_without_status_is_permanent() -> None:
    assert isinstance(classify(ClientAuthenticationError("no identity")), PermanentSendError)


def test_retry_after_as_http_date() -> None:
    now = 1_800_000_000.0
    date = format_datetime(datetime.fromtimestamp(now + 42, UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=lambda: now) == pytest.approx(42)


def test_retry_after_in_milliseconds_wins() -> None:
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5


@pytest.mark.parametrize("value", ["soon", "", "Tue, 99 Foo"])
def test_unreadable_retry_after_counts_as_absent(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}) is None


def test_retry_after_in_the_past_is_zero() -> None:
    date = format_datetime(datetime.fromtimestamp(1_000, UTC), usegmt=True)
    assert parse_retry_after({"Retry-After": date}, now=lambda: 2_000.0) == 0.0
