"""The emulator as raw HTTP clients see it: ACS-shaped errors and the control endpoints."""

import base64
from email.utils import formatdate
from urllib.parse import urlparse

import pytest
import requests

from tests.conftest import EMULATOR_KEY, message_to
from warmup.emulator.auth import hmac_authorization
from warmup.emulator.server import EmulatorServer

pytestmark = pytest.mark.integration
PATH = "/emails:send?api-version=2025-09-01"


def post(
    server: EmulatorServer, body: bytes, path: str = PATH, **headers: str
) -> requests.Response:
    signed = hmac_authorization(
        key=base64.b64decode(EMULATOR_KEY),
        method="POST",
        path_and_query=path,
        host=urlparse(server.url).netloc,
        date=formatdate(usegmt=True),
        body=body,
    )
    return requests.post(
        server.url + path,
        data=body,
        headers={"Content-Type": "application/json", **signed, **headers},
        timeout=10,
    )


def assert_acs_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["x-ms-error-code"] == code
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_malformed_json_is_400(emulator: EmulatorServer) -> None:
    assert_acs_error(post(emulator, b'{"senderAddress": '), 400, "InvalidRequestBody")


def test_oversize_body_is_413_without_reading_it_all(emulator: EmulatorServer) -> None:
    assert_acs_error(post(emulator, b"x" * (10 * 1024 * 1024 + 10)), 413, "RequestEntityTooLarge")


def test_missing_api_version_is_400(emulator: EmulatorServer) -> None:
    import json

    body = json.dumps(message_to("a@example.org")).encode()
    assert_acs_error(post(emulator, body, path="/emails:send"), 400, "MissingApiVersionParameter")


def test_unsigned_request_is_401(emulator: EmulatorServer) -> None:
    response = requests.post(emulator.url + PATH, json=message_to("a@x.org"), timeout=10)
    assert_acs_error(response, 401, "Denied")


def test_202_has_an_absolute_operation_location(emulator: EmulatorServer) -> None:
    import json

    response = post(
        emulator, json.dumps(message_to("a@example.org")).encode(), **{"Operation-Id": "abc"}
    )
    assert response.status_code == 202
    assert response.headers["Operation-Location"].startswith(
        emulator.url + "/emails/operations/abc"
    )
    assert int(response.headers["retry-after"]) >= 1
    assert response.json() == {"id": "abc", "status": "Running", "error": None}


def test_dropped_connection_gives_no_answer(emulator: EmulatorServer) -> None:
    emulator.reconfigure(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        post(emulator, b"{}")
    assert emulator.stats()["injected"] == {"drop": 1}


def test_config_can_be_read_and_patched_and_hides_the_key(emulator: EmulatorServer) -> None:
    shown = requests.get(emulator.url + "/_emulator/config", timeout=5).text
    assert EMULATOR_KEY not in shown
    patched = requests.patch(
        emulator.url + "/_emulator/config", json={"send_per_minute": 7}, timeout=5
    )
    assert patched.status_code == 200
    assert patched.json()["send_per_minute"] == 7
    bad = requests.patch(emulator.url + "/_emulator/config", json={"nope": 1}, timeout=5)
    assert bad.status_code == 400
    assert "nope" in bad.text
    invalid = requests.patch(emulator.url + "/_emulator/config", json={"bounce_rate": 3}, timeout=5)
    assert invalid.status_code == 400


def test_stats_and_reset(emulator: EmulatorServer) -> None:
    import json

    post(emulator, json.dumps(message_to("a@example.org")).encode())
    stats = requests.get(emulator.url + "/_emulator/stats?recipients=true", timeout=5).json()
    assert stats["accepted"] == 1
    assert stats["accepted_per_recipient"] == {"a@example.org": 1}
    requests.post(emulator.url + "/_emulator/reset", timeout=5)
    assert requests.get(emulator.url + "/_emulator/stats", timeout=5).json()["accepted"] == 0
