"""The relay while a campaign runs on the same domain: apps' and printers' mail goes out once,
ahead of the campaign's remaining rows, within the domain's cap; and a relay killed after its
250s loses nothing it acknowledged."""

import smtplib
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import DOMAIN, SENDER, World, exactly_once, world
from harness.relay_world import Relay, RelayProcess, relay_in_thread, relay_rows_left, submission
from warmup.clock import ScaledClock
from warmup.store.models import Campaign, LedgerRow, RelayMessage
from warmup.wiring import Stores

pytestmark = pytest.mark.integration

SCALE = 20.0  # the service's clock runs 20 times faster: a minute passes in 3 s
PER_MINUTE = 150  # 50 a second in real time: the relay's 1,000 queue up
CAPPED = f"""
name: capped
quota: {{per_minute: 1000000, per_hour: 10000000, headroom: 1.0}}
steps:
  - {{per_minute: {PER_MINUTE}, per_hour: 1000000, per_day: 10000000}}
"""
# A tick's claim (at most 100 rows, 2 s at 50/s) may be on its way when relayed mail arrives.
SLACK = timedelta(seconds=2 * SCALE)


def submit_all(relay: Relay, login: tuple[str, str], addresses: list[str]) -> None:
    """Each address gets one message, over one connection, like an app's mail queue."""
    with relay.client(login) as smtp:
        for address in addresses:
            assert smtp.send_message(submission(SENDER, [address])) == {}


def run_in_background(w: World, stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            w.runtime.reconcile()
            for batch in w.runtime.dispatch():
                w.runtime.run_batch(batch.to_message())
            time.sleep(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_1000_relayed_messages_go_once_ahead_of_the_campaign_within_its_cap(
    postgres_url: str, tmp_path: Path
) -> None:
    relayed = [f"app{i}@example.org" for i in range(1000)]
    clock = ScaledClock(SCALE, time.time())
    with world(
        postgres_url,
        tmp_path,
        recipients=600,
        plan_yaml=CAPPED,
        clock=clock,
        time_scale=SCALE,
        # A permit's margin is in the service's clock: one real second covers this process's
        # threads (the relay's, its clients', the senders') between permit and request.
        settings_overrides={"max_claim_per_tick": 100, "limiter_margin_seconds": SCALE},
    ) as w:
        password = Stores(w.database).relay_users.add(
            "app-1", DOMAIN, actor="ops", at=datetime.now(UTC)
        )
        stop = threading.Event()
        sender = run_in_background(w, stop)
        with relay_in_thread(w.database, clock) as relay:
            while w.emulator.stats()["accepted"] < 100:  # the campaign is under way
                time.sleep(0.02)
            clients = [
                threading.Thread(
                    target=submit_all, args=(relay, ("app-1", password), relayed[i::10])
                )
                for i in range(10)
            ]
            for client in clients:
                client.start()
            for client in clients:
                client.join(120)
            deadline = time.monotonic() + 120
            while relay_rows_left(w.database) or w.completed() is False:
                assert time.monotonic() < deadline, (
                    f"{relay_rows_left(w.database)} relayed rows left"
                )
                w.runtime.campaigns.finish_campaigns(datetime.now(UTC))
                time.sleep(0.1)
        stop.set()
        sender.join(30)
        stats = w.emulator.stats(include_recipients=True)
        exactly_once(stats, 600 + 1000)
        assert all(stats["accepted_per_recipient"].get(a) == 1 for a in relayed)
        assert stats["max_accepted_in_any_minute"] <= PER_MINUTE
        with w.database.session() as session:
            last_submitted = session.scalar(select(func.max(RelayMessage.received_at)))
            relay_done = session.scalar(
                select(func.max(LedgerRow.accepted_at)).where(LedgerRow.relay_message_id != 0)
            )
            assert last_submitted is not None
            assert relay_done is not None
            assert relay_done - last_submitted > 4 * SLACK, "the relay queue never built up"
            campaign_rows_meanwhile = session.scalar(
                select(func.count())
                .select_from(LedgerRow)
                .join(Campaign, Campaign.id == LedgerRow.campaign_id)
                .where(
                    Campaign.name == "c",
                    LedgerRow.accepted_at > last_submitted + SLACK,
                    LedgerRow.accepted_at < relay_done - SLACK,
                )
            )
        # While relayed mail waited, the campaign got none of the allowance.
        assert campaign_rows_meanwhile == 0


def send_until_acknowledged(
    process: RelayProcess, login: tuple[str, str], message: EmailMessage, lock: threading.Lock
) -> int:
    """As an MTA does: on any failure, wait and send the same message again. Returns tries."""
    tries = 0
    while True:
        tries += 1
        try:
            with lock:
                relay = Relay(process.port, process.ca_file.read_bytes())
            with relay.client(login) as smtp:
                smtp.send_message(message)
            return tries
        except (OSError, smtplib.SMTPException):
            time.sleep(0.2)
            assert tries < 200, process.log()


@pytest.mark.timeout(180)
def test_a_relay_killed_mid_stream_loses_nothing_it_acknowledged(
    postgres_url: str, tmp_path: Path
) -> None:
    with world(postgres_url, tmp_path, recipients=1) as w:
        password = Stores(w.database).relay_users.add(
            "printer", DOMAIN, actor="ops", at=datetime.now(UTC)
        )
        process = RelayProcess(postgres_url, tmp_path)
        process.start()
        lock = threading.Lock()
        acknowledged: list[str] = []
        retried: list[int] = []

        def client(index: int) -> None:
            for n in range(40):
                address = f"scan{index}-{n}@example.org"
                tries = send_until_acknowledged(
                    process, ("printer", password), submission(SENDER, [address]), lock
                )
                retried.append(tries - 1)
                acknowledged.append(address)

        clients = [threading.Thread(target=client, args=(i,)) for i in range(5)]
        for thread in clients:
            thread.start()
        while len(acknowledged) < 60:
            time.sleep(0.01)
        with lock:
            process.kill()  # SIGKILL: no chance to finish anything
            killed_at = len(acknowledged)
            process.start()
        for thread in clients:
            thread.join(120)
        process.kill()
        assert len(acknowledged) == 200
        assert killed_at < 200
        w.run_until_done(timeout=60)
        deadline = time.monotonic() + 60
        while relay_rows_left(w.database):
            assert time.monotonic() < deadline
            for batch in w.runtime.dispatch():
                w.runtime.run_batch(batch.to_message())
        per_recipient = w.emulator.stats(include_recipients=True)["accepted_per_recipient"]
        # Every message acknowledged before or after the kill went out.
        assert all(per_recipient.get(address, 0) >= 1 for address in acknowledged)
        # Only a message in flight at the kill (stored, its 250 lost) can go twice: at most one
        # per client, and only when that client sent it again.
        assert sum(n - 1 for n in per_recipient.values() if n > 1) <= min(5, sum(retried))
