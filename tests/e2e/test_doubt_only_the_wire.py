"""Issue 29 with real processes: a row is in doubt only if its request may have reached ACS.

The strict witness is the emulator with de-duplication off (a second post of an Operation-Id
would be a second email) and its counts: status GETs, DATA commands and when each arrived.
Processes are SIGKILLed, the database goes away behind a proxy the test cuts, and the SMTP
endpoint's quota is below the domain's, answering real ``451 4.7.500``s."""

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import DOMAIN, SENDER, exactly_once
from harness.relay_world import RelayProcess, relay_rows_left, submission
from harness.tcp_proxy import TcpProxy, wait_until
from tests.conftest import emulator_config
from tests.e2e.test_deployment import all_accepted, deployment, wait_for_completion
from warmup.sending.transport import Transport
from warmup.store.models import LedgerRow
from warmup.wiring import Stores

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SLOTS = 8  # WARMUP_SEND_CONCURRENCY: requests on the wire per process at most
LAPSED = re.compile(r"lapsed: (\d+) row\(s\) unsent, (\d+) answered, (\d+) in doubt")


def recovered(logs: str) -> tuple[int, int, int]:
    """(unsent, answered, in doubt) that housekeeping settled from lapsed batches' journals."""
    found = [tuple(map(int, m.groups())) for m in LAPSED.finditer(logs)]
    return (sum(f[0] for f in found), sum(f[1] for f in found), sum(f[2] for f in found))


def ledger_notes(database) -> dict[str | None, int]:  # type: ignore[no-untyped-def]
    """How many rows carry each note (last_error), to tell how rows were settled."""
    with database.session() as session:
        rows = session.execute(
            select(LedgerRow.last_error, func.count()).group_by(LedgerRow.last_error)
        )
        return {note: int(n) for note, n in rows}


def full_logs(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.glob("*.log"))


@pytest.mark.timeout(420)
def test_killed_send_processes_leave_in_doubt_only_what_was_on_the_wire(
    tmp_path: Path, postgres_url: str
) -> None:
    # Default leases and the default status-GET budget (20 a minute, 150 an hour). Pool
    # processes are SIGKILLed twice, then the whole worker, and a new one is started.
    config = emulator_config(
        sender_domains=[DOMAIN], latency_ms=40, jitter_ms=30, dedupe_operation_ids=False
    )
    with deployment(
        tmp_path,
        postgres_url,
        3_000,
        config,
        WARMUP_SEND_CONCURRENCY=str(SLOTS),
        WARMUP_BATCH_SIZE="100",
    ) as d:
        celery, emulator = d.celery, d.emulator

        def accepted_at_least(n: int) -> None:
            wait_until(lambda: emulator.stats()["accepted"] >= n, 120, f"{n} accepted")

        celery.worker("w1", concurrency=2)
        celery.beat()
        accepted_at_least(300)
        assert celery.kill_a_child("w1")
        accepted_at_least(1_000)
        assert celery.kill_a_child("w1")
        accepted_at_least(1_600)
        celery.kill_worker("w1")
        celery.worker("w2", concurrency=2)
        restarted = time.monotonic()
        wait_for_completion(d.database, celery, timeout=180)
        took = time.monotonic() - restarted
        stats = emulator.stats()
        unsent, answered, in_doubt = recovered(full_logs(tmp_path))
        all_accepted(d.database, 3_000)
    assert stats["reused_operation_ids"] == 0, "an Operation-Id was posted twice"
    exactly_once(stats, 3_000)
    assert took < 180
    # Four send processes died with at most SLOTS requests each on the wire: only those rows
    # were asked about, one GET each. The rows they had readied came back without a GET.
    assert stats["status_requests"] == in_doubt <= 4 * SLOTS
    assert unsent + answered > 0


SMTP_RELAYED = 60
THROTTLE = 2.0  # WARMUP_SMTP_THROTTLE_SECONDS: SMTP's 451 carries no Retry-After
CONNECTIONS = 4  # WARMUP_SMTP_CONNECTIONS per process


@pytest.mark.timeout(420)
def test_smtp_under_a_lower_quota_short_leases_and_a_killed_process_sends_each_once(
    tmp_path: Path, postgres_url: str
) -> None:
    # The endpoint takes 100 messages per 10 s (an emulated minute lasts 10 s), far below the
    # domain's plan, so 451s come in bursts; leases are 40 s; a send process is SIGKILLed.
    # Relayed mail goes out beside the campaign, over the same SMTP endpoint.
    recipients = 600
    relayed = [f"app{n}@example.org" for n in range(SMTP_RELAYED)]
    config = emulator_config(
        sender_domains=[DOMAIN], latency_ms=10, send_per_minute=100, time_scale=6.0
    )
    with deployment(
        tmp_path,
        postgres_url,
        recipients,
        config,
        transport=Transport.SMTP,
        WARMUP_LEASE_SECONDS="40",
        WARMUP_SMTP_CONNECTIONS=str(CONNECTIONS),
        WARMUP_SMTP_THROTTLE_SECONDS=str(THROTTLE),
        WARMUP_SEND_CONCURRENCY="16",
        WARMUP_BATCH_SIZE="100",
    ) as d:
        celery, emulator = d.celery, d.emulator
        password = Stores(d.database).relay_users.add(
            "app", DOMAIN, actor="ops", at=datetime.now(UTC)
        )
        relay = RelayProcess(postgres_url, tmp_path)
        try:
            with relay.start().client(("app", password)) as smtp:
                for address in relayed:
                    smtp.send_message(submission(SENDER, [address]))
            celery.worker("w1", concurrency=2)
            celery.beat()
            wait_until(lambda: emulator.stats()["accepted"] >= 200, 120, "200 accepted")
            assert celery.kill_a_child("w1")
            wait_for_completion(d.database, celery, timeout=300)
            wait_until(lambda: relay_rows_left(d.database) == 0, 120, "relayed mail sent")
        finally:
            relay.kill()
        stats = emulator.stats(include_recipients=True)
        all_accepted(d.database, recipients)
        taken = sum(n for note, n in ledger_notes(d.database).items() if note and "taken" in note)
    # Every row the ledger calls accepted reached the endpoint: its DATA arrived.
    received = stats["smtp_received_per_recipient"]
    assert len(received) == recipients + len(relayed)
    # A relayed message's DATA may arrive twice (a 451, then the retry); it is accepted once.
    accepted = stats["accepted_per_recipient"]
    assert {a: accepted.get(a, 0) for a in relayed if accepted.get(a, 0) > 1} == {}
    # Nobody was accepted twice. A row is taken as accepted only when its DATA may have left
    # and its answer is unknown: at most one per connection of the killed process. Its
    # message reached the endpoint, which may still have refused it (a 451 the dead process
    # never read): SMTP cannot be asked, and that is the only way to never send twice.
    assert stats["recipients_accepted_more_than_once"] == 0
    assert stats["reused_with_different_body"] == 0
    assert recipients + len(relayed) - stats["distinct_recipients"] <= taken <= CONNECTIONS
    assert stats["throttled"] > 0
    # After each first 451 of a burst, only transactions already under way arrived before the
    # hold was over: at most one per connection per process (two processes).
    arrivals = sorted(stats["send_request_walls"])
    firsts = [
        t
        for i, t in enumerate(sorted(stats["throttle_walls"]))
        if i == 0 or t - sorted(stats["throttle_walls"])[i - 1] > THROTTLE
    ]
    for first in firsts:
        during = [t for t in arrivals if first < t < first + THROTTLE - 0.2]
        assert len(during) <= 2 * CONNECTIONS, (
            f"{len(during)} messages arrived while every worker should hold back"
        )


@pytest.mark.timeout(420)
def test_a_database_outage_mid_campaign_delays_the_campaign_and_repeats_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    # PostgreSQL is cut off from every process for 15 s (the proxy closes every connection
    # and refuses new ones), then comes back. Nobody restarts.
    proxy = TcpProxy("127.0.0.1", 5432)
    config = emulator_config(
        sender_domains=[DOMAIN], latency_ms=40, jitter_ms=30, dedupe_operation_ids=False
    )
    try:
        with deployment(
            tmp_path,
            postgres_url,
            3_000,
            config,
            services_database_url=proxy.url_for(postgres_url, 5432),
            WARMUP_SEND_CONCURRENCY=str(SLOTS),
            WARMUP_BATCH_SIZE="100",
        ) as d:
            celery, emulator = d.celery, d.emulator
            celery.worker("w1", concurrency=2)
            celery.beat()
            wait_until(lambda: emulator.stats()["accepted"] >= 800, 120, "800 accepted")
            proxy.cut()
            time.sleep(15)
            proxy.restore()
            back = time.monotonic()
            wait_for_completion(d.database, celery, timeout=180)
            took = time.monotonic() - back
            stats = emulator.stats()
            logs = full_logs(tmp_path)
            all_accepted(d.database, 3_000)
    finally:
        proxy.stop()
    assert stats["reused_operation_ids"] == 0, "an Operation-Id was posted twice"
    exactly_once(stats, 3_000)
    assert took < 180
    # At most the requests on the wire when the store went away were ever in doubt.
    assert stats["status_requests"] <= 2 * SLOTS
    assert "Task exception was never retrieved" not in logs
    assert "Task was destroyed but it is pending" not in logs


RELAYED = 120
RELAY_PER_MINUTE = 600  # 10 a second: the relayed mail is still going out at the kill
RELAY_CAPPED = f"""
name: capped
quota: {{per_minute: 1000000, per_hour: 10000000, headroom: 1.0}}
steps:
  - {{per_minute: {RELAY_PER_MINUTE}, per_hour: 1000000, per_day: 10000000}}
"""


@pytest.mark.timeout(300)
def test_relayed_mail_left_by_a_killed_worker_is_posted_within_a_minute_of_its_restart(
    tmp_path: Path, postgres_url: str
) -> None:
    # Default leases. Rows of batches the worker had started come back within one live lease
    # (30 s); rows a tick had claimed whose batch never started (claimed, then the worker
    # died) within the queue lease (30 s).
    config = emulator_config(
        sender_domains=[DOMAIN], latency_ms=40, jitter_ms=30, dedupe_operation_ids=False
    )
    with deployment(
        tmp_path,
        postgres_url,
        1,
        config,
        plan_yaml=RELAY_CAPPED,
        WARMUP_SEND_CONCURRENCY=str(SLOTS),
        WARMUP_BATCH_SIZE="20",
    ) as d:
        celery, emulator = d.celery, d.emulator
        password = Stores(d.database).relay_users.add(
            "app", DOMAIN, actor="ops", at=datetime.now(UTC)
        )
        relay = RelayProcess(postgres_url, tmp_path)
        try:
            door = relay.start()
            with door.client(("app", password)) as smtp:
                for n in range(RELAYED):
                    smtp.send_message(submission(SENDER, [f"app{n}@example.org"]))
            celery.worker("w1", concurrency=2)
            celery.beat()
            wait_until(lambda: emulator.stats()["accepted"] >= 40, 120, "40 accepted")
            celery.kill_worker("w1")
            left_at_kill = relay_rows_left(d.database)
            celery.worker("w2", concurrency=2)
            took = wait_until(
                lambda: relay_rows_left(d.database) == 0,
                120,
                lambda: f"relayed mail sent ({relay_rows_by_state(d.database)})",
            )
        finally:
            relay.kill()
        stats = emulator.stats(include_recipients=True)
    assert left_at_kill > 0
    assert took < 60, f"relayed mail waited {took:.0f} s after the restart"
    relayed = {f"app{n}@example.org" for n in range(RELAYED)}
    per_recipient = stats["accepted_per_recipient"]
    assert all(per_recipient.get(address) == 1 for address in relayed)
    assert stats["reused_operation_ids"] == 0


def relay_rows_by_state(database) -> dict[tuple[str, str | None], int]:  # type: ignore[no-untyped-def]
    """Relayed rows not accepted yet, by state and note: what a failure shows."""
    with database.session() as session:
        rows = session.execute(
            select(LedgerRow.state, LedgerRow.last_error, func.count())
            .where(LedgerRow.relay_message_id != 0, LedgerRow.state != "accepted")
            .group_by(LedgerRow.state, LedgerRow.last_error)
        )
        return {(state, note): int(n) for state, note, n in rows}
