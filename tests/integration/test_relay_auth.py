"""The relay's AUTH under attack (issue 30): it cannot be stalled without credentials, does not
tell its users' names by timing, closes a connection that keeps failing, and answers hostile
input with 535."""

from __future__ import annotations

import base64
import smtplib
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.integration.test_relay import RelayWorld, relay_world
from warmup.relay.server import FAILED_AUTH_CLOSE, FailedLogins
from warmup.store.database import Database
from warmup.wiring import Stores

pytestmark = pytest.mark.integration


@pytest.fixture
def w(database: Database) -> Iterator[RelayWorld]:
    yield from relay_world(database)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def auth_plain(smtp: smtplib.SMTP, name: str, password: str) -> tuple[int, bytes]:
    """One AUTH PLAIN command (smtplib's login() tries several mechanisms in turn)."""
    smtp.ehlo_or_helo_if_needed()
    return smtp.docmd("AUTH", "PLAIN " + _b64(f"\x00{name}\x00{password}"))


def auth_login(smtp: smtplib.SMTP, name: str, password: str) -> tuple[int, bytes]:
    """One AUTH LOGIN exchange (its name may hold any byte, a NUL included)."""
    smtp.ehlo_or_helo_if_needed()
    code, _ = smtp.docmd("AUTH", "LOGIN " + _b64(name))
    assert code == 334
    return smtp.docmd(_b64(password))


def test_a_connection_that_fails_auth_five_times_is_closed(w: RelayWorld) -> None:
    with w.relay.client() as smtp:
        for _ in range(FAILED_AUTH_CLOSE - 1):
            assert auth_plain(smtp, w.login[0], "wrong")[0] == 535
        assert auth_plain(smtp, w.login[0], "wrong")[0] == 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
    with w.relay.client() as smtp:  # a new connection may try again, and succeed
        assert auth_plain(smtp, *w.login)[0] == 235


@pytest.mark.parametrize("name", ["x\x00y", "x\ny\r\n2026-12-07 INFO forged", "\x00"])
def test_hostile_names_get_535_not_a_store_error(w: RelayWorld, name: str) -> None:
    with w.relay.client() as smtp:
        assert auth_login(smtp, name, "whatever")[0] == 535


def test_wrong_passwords_from_other_connections_do_not_stall_a_logged_in_client(
    w: RelayWorld,
) -> None:
    # Four connections send wrong passwords (each check is ~50 ms of scrypt) while a client
    # that logged in sends NOOPs: the checks run off the event loop, so its answers stay quick.
    stop = threading.Event()

    def attack() -> None:
        while not stop.is_set():
            try:
                with w.relay.client() as smtp:
                    while not stop.is_set():
                        try:
                            smtp.login(w.login[0], "wrong-password")
                        except smtplib.SMTPAuthenticationError:
                            continue
            except (smtplib.SMTPException, OSError):
                continue  # closed after five: open another

    attackers = [threading.Thread(target=attack) for _ in range(4)]
    with w.relay.client(w.login) as client:
        for thread in attackers:
            thread.start()
        time.sleep(0.5)
        latencies = []
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.noop()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.02)
        stop.set()
    for thread in attackers:
        thread.join(30)
    assert statistics.median(latencies) < 0.020, f"NOOP median {statistics.median(latencies)}"


def test_an_unknown_name_takes_as_long_as_a_wrong_password(database: Database) -> None:
    from harness.pipeline_world import add_domain

    add_domain(database)
    users = Stores(database).relay_users
    users.add("printer", "mail.example.com", actor="ops", at=datetime.now(UTC))

    def median_seconds(name: str) -> float:
        times = []
        for i in range(5):
            started = time.perf_counter()
            assert users.authenticate(name, f"wrong-{i}") is None
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    users.authenticate("warm-up-the-stand-in", "x")
    known, unknown = median_seconds("printer"), median_seconds("nobody-by-that-name")
    assert unknown > 0.5 * known, (known, unknown)


def test_an_address_that_keeps_failing_waits_longer_for_each_answer() -> None:
    now = [0.0]
    logins = FailedLogins(lambda: now[0])
    waits = [logins.failed("198.51.100.7") for _ in range(8)]
    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == sorted(waits[2:])
    assert waits[2] > 0
    assert max(waits) <= 30.0
    assert logins.failed("203.0.113.9") == 0.0  # another address is not held up
    now[0] += 901.0  # quiet for a quarter of an hour: forgotten
    assert logins.failed("198.51.100.7") == 0.0
    logins.succeeded("203.0.113.9")
