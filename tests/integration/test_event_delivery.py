"""Delivery reports pushed to a local webhook, with the Event Grid handshakes."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.conftest import emulator_config, message_to, send_all, wait_until
from warmup.emulator.events import DELIVERY_REPORT
from warmup.emulator.server import EmulatorServer

pytestmark = pytest.mark.integration


class Receiver:
    """A minimal webhook: answers both handshakes (unless told not to) and keeps what it gets."""

    def __init__(self, *, validate: bool = True, status: int = 200) -> None:
        self.validate = validate
        self.status = status
        self.events: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_OPTIONS(self) -> None:  # CloudEvents abuse-protection handshake
                receiver.calls.append(("OPTIONS", dict(self.headers)))
                self.send_response(200)
                if receiver.validate:
                    self.send_header(
                        "WebHook-Allowed-Origin", self.headers["WebHook-Request-Origin"]
                    )
                self.end_headers()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.calls.append(("POST", dict(self.headers)))
                if self.headers.get("aeg-event-type") == "SubscriptionValidation":
                    code = body[0]["data"]["validationCode"]
                    answer = json.dumps({"validationResponse": code if receiver.validate else "no"})
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(answer.encode())
                    return
                if receiver.status == 200:
                    receiver.events.extend(body if isinstance(body, list) else [body])
                self.send_response(receiver.status)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def send_to(server: EmulatorServer, *addresses: str) -> None:
    send_all(server, *((message_to(address), f"op-{i}") for i, address in enumerate(addresses)))


def test_event_grid_handshake_then_one_report_per_recipient(receiver: Receiver) -> None:
    config = emulator_config(webhook_url=receiver.url, event_delay_seconds=0.05)
    with EmulatorServer(config) as server:
        send_to(server, "ada@example.org", "bounce+1@example.org")
        # The receiver keeps events before it answers; the emulator counts them after.
        wait_until(lambda: server.stats()["events_delivered"] == 2)
        stats = server.stats()
    assert receiver.calls[0][1]["aeg-event-type"] == "SubscriptionValidation"
    assert stats["handshakes"] == 1
    assert stats["events_delivered"] == 2
    by_recipient = {e["data"]["recipient"]: e for e in receiver.events}
    assert by_recipient["ada@example.org"]["data"]["status"] == "Delivered"
    bounced = by_recipient["bounce+1@example.org"]
    assert bounced["eventType"] == DELIVERY_REPORT
    assert bounced["data"]["status"] == "Bounced"
    assert bounced["data"]["messageId"] == "op-1"
    assert "5.1.1" in bounced["data"]["deliveryStatusDetails"]["statusMessage"]
    assert bounced["data"]["deliveryAttemptTimestamp"].endswith("Z")


def test_cloud_events_handshake_and_batch(receiver: Receiver) -> None:
    config = emulator_config(
        webhook_url=receiver.url, event_schema="cloudevents", event_delay_seconds=0.05
    )
    with EmulatorServer(config) as server:
        send_to(server, "a@example.org", "b@example.org", "c@example.org")
        receiver.wait_for(3)
    method, headers = receiver.calls[0]
    assert method == "OPTIONS"
    assert headers["WebHook-Request-Origin"] == "eventgrid.azure.net"
    assert {e["specversion"] for e in receiver.events} == {"1.0"}
    assert {e["type"] for e in receiver.events} == {DELIVERY_REPORT}
    posts = [h for m, h in receiver.calls if m == "POST"]
    assert posts[0]["Content-Type"].startswith("application/cloudevents-batch+json")


def test_no_reports_without_a_successful_handshake() -> None:
    receiver = Receiver(validate=False)
    config = emulator_config(webhook_url=receiver.url, event_delay_seconds=0.05)
    with EmulatorServer(config) as server:
        send_to(server, "a@example.org")
        wait_until(lambda: server.stats()["delivery_failures"] >= 1)
        stats = server.stats()
    receiver.server.shutdown()
    assert receiver.events == []
    assert stats["events_delivered"] == 0
    assert stats["delivery_failures"] >= 1


def test_duplicates_and_disorder_can_be_asked_for(receiver: Receiver) -> None:
    config = emulator_config(
        webhook_url=receiver.url,
        event_delay_seconds=0.05,
        event_delay_jitter_seconds=0.3,
        duplicate_rate=1.0,
        vary_event_spelling=True,
        event_batch_size=1,
    )
    addresses = [f"u{i}@example.org" for i in range(10)]
    with EmulatorServer(config) as server:
        send_to(server, *addresses)
        receiver.wait_for(20)
    recipients = [e["data"]["recipient"] for e in receiver.events]
    assert sorted(recipients) == sorted(addresses * 2)  # every report twice
    assert recipients[:10] != addresses  # not in send order
    statuses = {e["data"]["status"] for e in receiver.events}
    assert statuses == {"Delivered", "delivered"}
    keys = {k for e in receiver.events for k in e["data"]}
    assert {"deliveryAttemptTimestamp", "deliveryAttemptTimeStamp"} <= keys


def test_401_from_the_webhook_is_not_retried() -> None:
    receiver = Receiver(status=401)
    config = emulator_config(webhook_url=receiver.url, event_delay_seconds=0.05)
    with EmulatorServer(config) as server:
        send_to(server, "a@example.org")
        wait_until(lambda: server.stats()["events_dead_lettered"] == 1)
        time.sleep(0.3)  # a retry, if one were wrongly scheduled, would show by now
        stats = server.stats()
    receiver.server.shutdown()
    assert stats["events_dead_lettered"] == 1
    assert stats["delivery_failures"] == 0
