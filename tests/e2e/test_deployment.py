"""Issue 5's deployment checks with real processes: Celery workers and beat, PostgreSQL, a Redis
server of the test's own, the emulator. Every recipient must reach ACS exactly once."""

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from harness.deployment import Celery, RedisServer, running_celery, service_environment
from harness.pipeline_world import (
    DOMAIN,
    SMTP_PASSWORD,
    SMTP_USER,
    UNBOUNDED,
    exactly_once,
    seed_campaign,
    smtp_settings,
)
from tests.conftest import emulator_config
from warmup.campaigns.report import campaign_report
from warmup.domains.store import DomainStore
from warmup.emulator.config import EmulatorConfig
from warmup.emulator.server import EmulatorServer
from warmup.sending.transport import Transport
from warmup.store.database import Database
from warmup.wiring import Stores

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def environment(
    database_url: str, redis_url: str, emulator_url: str, **extra: str
) -> dict[str, str]:
    # Quick housekeeping and short backoffs: faults recover within the test's time.
    return service_environment(
        database_url,
        redis_url,
        emulator_url,
        WARMUP_RECONCILE_INTERVAL_SECONDS="1",
        WARMUP_RETRY_BACKOFF_INITIAL_SECONDS="0.05",
        WARMUP_RETRY_BACKOFF_MAX_SECONDS="0.5",
        **extra,
    )


def wait_for_completion(database: Database, celery, timeout: float, during=None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    started = time.monotonic()
    while time.monotonic() < deadline:
        if during is not None:
            during(time.monotonic() - started)
        if Stores(database).campaigns.get("c").status == "completed":
            return
        time.sleep(0.25)
    report = campaign_report(
        database, DomainStore(database), "c", today=datetime.now(UTC).date(), message_kb=5
    )
    raise AssertionError(f"not completed: {report.by_state}\n{celery.logs()}")


def smtp_environment(emulator: EmulatorServer, folder: Path) -> dict[str, str]:
    """WARMUP_SMTP_* for worker processes: the emulator's listener, trusting its test CA."""
    values = smtp_settings(emulator, folder)
    return {
        f"WARMUP_{key.upper()}": str(
            value.get_secret_value() if isinstance(value, SecretStr) else value
        )
        for key, value in values.items()
    }


@dataclass
class Deployment:
    database: Database
    redis: RedisServer
    emulator: EmulatorServer
    celery: Celery


@contextmanager
def deployment(
    tmp_path: Path,
    postgres_url: str,
    recipients: int,
    config: EmulatorConfig,
    plan_yaml: str = UNBOUNDED,
    transport: Transport = Transport.REST,
    services_database_url: str | None = None,
    **env: str,
) -> Iterator[Deployment]:
    """A seeded campaign, a Redis server of the test's own, the emulator and a Celery
    environment pointed at them (start workers and beat on ``celery``); all stopped after.
    Over SMTP, the domain sends through the emulator's SMTP listener. The processes reach
    the database at ``services_database_url`` when given (a proxy a test can cut)."""
    database = Database.connect(postgres_url, migrate=True)
    seed_campaign(
        database, tmp_path, recipients=recipients, plan_yaml=plan_yaml, transport=transport
    )
    if transport is Transport.SMTP:
        config = config.model_copy(
            update={"smtp_port": 0, "smtp_users": {SMTP_USER: SecretStr(SMTP_PASSWORD)}}
        )
    server = RedisServer(tmp_path)
    server.start()
    try:
        with EmulatorServer(config) as emulator:
            if transport is Transport.SMTP:
                env = {**smtp_environment(emulator, tmp_path), **env}
            with running_celery(
                environment(services_database_url or postgres_url, server.url, emulator.url, **env),
                tmp_path,
            ) as celery:
                yield Deployment(database, server, emulator, celery)
    finally:
        server.stop()
        database.dispose()


def all_accepted(database: Database, recipients: int) -> None:
    report = campaign_report(
        database, DomainStore(database), "c", today=datetime.now(UTC).date(), message_kb=5
    )
    assert report.by_state == {"accepted": recipients}
    assert report.adds_up


@pytest.mark.timeout(400)
def test_two_workers_and_beat_send_20000_once(tmp_path: Path, postgres_url: str) -> None:
    config = emulator_config(sender_domains=[DOMAIN], latency_ms=20)
    with deployment(tmp_path, postgres_url, 20_000, config) as d:
        d.celery.worker("w1", concurrency=1)
        d.celery.worker("w2", concurrency=1)
        d.celery.beat()
        wait_for_completion(d.database, d.celery, timeout=300)
        exactly_once(d.emulator.stats(), 20_000)
        all_accepted(d.database, 20_000)


@pytest.mark.timeout(400)
def test_killed_workers_a_redis_restart_and_acs_storms_lose_and_duplicate_nothing(
    tmp_path: Path, postgres_url: str
) -> None:
    events: list[str] = []
    started: list[float] = []
    config = emulator_config(sender_domains=[DOMAIN], latency_ms=30, jitter_ms=20)
    # Short leases so that work lost with the queue comes back within the test.
    with deployment(
        tmp_path,
        postgres_url,
        5_000,
        config,
        WARMUP_LEASE_SECONDS="8",
        WARMUP_BATCH_SIZE="40",
        WARMUP_SEND_CONCURRENCY="16",
        # Three kills and a Redis restart can leave a hundred rows in doubt: at the default 20
        # status GETs a minute, settling them would outlast this test, and is not what it tests.
        WARMUP_STATUS_POLLS_PER_MINUTE="600",
        WARMUP_STATUS_POLLS_PER_HOUR="100000",
    ) as d:
        celery, emulator = d.celery, d.emulator
        plan = [
            (0.0, "kill", lambda: celery.kill_a_child("w1")),
            (1.0, "503 burst", lambda: emulator.reconfigure(fault_503_rate=0.5)),
            (2.5, "503 over", lambda: emulator.reconfigure(fault_503_rate=0.0)),
            (3.0, "kill", lambda: celery.kill_a_child("w2")),
            (
                4.0,
                "429 storm",
                lambda: emulator.reconfigure(fault_429_rate=0.6, fault_retry_after_seconds=1),
            ),
            (6.0, "429 over", lambda: emulator.reconfigure(fault_429_rate=0.0)),
            (6.5, "redis restart", d.redis.restart),
            (8.0, "kill", lambda: celery.kill_a_child("w1")),
        ]

        def chaos(elapsed: float) -> None:
            # Faults start once batches flow: a pool process killed while still starting
            # up makes Celery give up on the whole worker, which is not what is tested.
            if not started:
                if emulator.stats()["accepted"] < 200:
                    return
                started.append(elapsed)
            for at, name, act in plan:
                if elapsed - started[0] >= at and f"{at}:{name}" not in events:
                    assert act() is not False, f"{name} at {at} s did nothing"
                    events.append(f"{at}:{name}")

        celery.worker("w1", concurrency=2)
        celery.worker("w2", concurrency=2)
        celery.beat()
        wait_for_completion(d.database, celery, timeout=300, during=chaos)
        stats = emulator.stats()
        assert len(events) == len(plan), events  # every fault happened before the end
        exactly_once(stats, 5_000)
        assert stats["injected"].get("503", 0) > 0
        assert stats["injected"].get("429", 0) > 0
        all_accepted(d.database, 5_000)


@pytest.mark.timeout(300)
def test_a_worker_stopped_with_sigterm_finishes_its_batch_and_exits_cleanly(
    tmp_path: Path, postgres_url: str
) -> None:
    # Kubernetes stops a pod with SIGTERM: the worker must finish (or hand back) what it holds
    # and exit 0. With the default 300 s lease, an abandoned batch would hold the campaign
    # past this test's deadline, so completing in time shows nothing was left behind.
    config = emulator_config(sender_domains=[DOMAIN], latency_ms=60, jitter_ms=20)
    with deployment(tmp_path, postgres_url, 3_000, config, WARMUP_BATCH_SIZE="50") as d:
        stopping = d.celery.worker("w1", concurrency=2)
        d.celery.worker("w2", concurrency=2)
        d.celery.beat()
        deadline = time.monotonic() + 60
        while d.emulator.stats()["accepted"] < 300:
            assert time.monotonic() < deadline, d.celery.logs()
            time.sleep(0.05)
        at_signal = d.emulator.stats()["accepted"]
        stopping.terminate()  # SIGTERM: Celery's warm shutdown
        assert stopping.wait(60) == 0, d.celery.logs()
        # The signal came mid-campaign. Not checked after w1 is gone: w2 sends on meanwhile,
        # and on a quiet machine it finished the campaign during w1's 3 s warm shutdown.
        assert at_signal < 3_000
        wait_for_completion(d.database, d.celery, timeout=120)
        log = (tmp_path / "w1.log").read_text(errors="replace")
        assert "warm shutdown" in log.lower()
        assert "WorkerLostError" not in log
        # A batch that was running when the signal came was finished, not dropped: its task
        # (a batch still starting its rows) or its tail (rows started, answers awaited after
        # the task returned: start_batch) ended after the signal, and none failed.
        after = log.lower().split("warm shutdown", 1)[1].splitlines()
        tasks = [line for line in after if "send_batch" in line and "succeeded" in line]
        tails = [line for line in after if re.search(r"batch \S+ finished: ", line)]
        assert tasks or tails, log[-3000:]
        assert "failed after its task returned" not in log
        exactly_once(d.emulator.stats(), 3_000)
        all_accepted(d.database, 3_000)


@pytest.mark.timeout(300)
def test_sigterm_while_acs_says_wait_drains_in_seconds_and_sends_nothing_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    # ACS answers every send with 429 and Retry-After 40 s: without draining, the worker would
    # sit in that wait (and then in the limiter's throttle) until the pod is killed.
    retry_after = 40
    config = emulator_config(
        sender_domains=[DOMAIN], latency_ms=20, jitter_ms=10, dedupe_operation_ids=False
    )
    with deployment(
        tmp_path, postgres_url, 2_000, config, WARMUP_BATCH_SIZE="100", WARMUP_LEASE_SECONDS="120"
    ) as d:
        stopping = d.celery.worker("w1", concurrency=2)
        d.celery.beat()
        deadline = time.monotonic() + 60
        while d.emulator.stats()["accepted"] < 200:
            assert time.monotonic() < deadline, d.celery.logs()
            time.sleep(0.05)
        d.emulator.reconfigure(fault_429_rate=1.0, fault_retry_after_seconds=retry_after)
        time.sleep(3)  # the running batches now wait on the Retry-After
        sent_before = d.emulator.stats()["accepted"]
        asked = time.monotonic()
        stopping.terminate()  # SIGTERM: Celery's warm shutdown
        assert stopping.wait(60) == 0, d.celery.logs()
        took = time.monotonic() - asked
        assert took < 15, f"the worker took {took:.1f} s to stop"
        log = (tmp_path / "w1.log").read_text(errors="replace")
        assert "worker shutting down" in log  # rows given back, with the reason
        assert d.emulator.stats()["accepted"] == sent_before
        d.emulator.reconfigure(fault_429_rate=0.0)
        d.celery.worker("w2", concurrency=2)  # once the throttle has passed, it finishes
        wait_for_completion(d.database, d.celery, timeout=180)
        stats = d.emulator.stats()
    assert stats["reused_operation_ids"] == 0, "an Operation-Id was posted twice"
    exactly_once(stats, 2_000)


@pytest.mark.timeout(300)
def test_killed_workers_never_post_an_operation_id_twice(tmp_path: Path, postgres_url: str) -> None:
    # The strict witness: this emulator does not de-duplicate Operation-Ids, so any second
    # post would be a second email. Pool processes are SIGKILLed mid-send twice, then the whole
    # worker is killed and a new one started. Rows whose request may have left are settled by
    # asking ACS (GET /emails/operations/{id}) before anything is sent again.
    config = emulator_config(
        sender_domains=[DOMAIN], latency_ms=40, jitter_ms=30, dedupe_operation_ids=False
    )
    with deployment(
        tmp_path,
        postgres_url,
        3_000,
        config,
        WARMUP_LEASE_SECONDS="8",
        WARMUP_BATCH_SIZE="40",
        WARMUP_SEND_CONCURRENCY="16",
        WARMUP_STATUS_POLLS_PER_MINUTE="600",
        WARMUP_STATUS_POLLS_PER_HOUR="100000",
    ) as d:
        celery, emulator = d.celery, d.emulator

        def accepted_at_least(n: int) -> None:
            deadline = time.monotonic() + 120
            while emulator.stats()["accepted"] < n:
                assert time.monotonic() < deadline, celery.logs()
                time.sleep(0.02)

        celery.worker("w1", concurrency=2)
        celery.beat()
        accepted_at_least(300)
        assert celery.kill_a_child("w1")
        accepted_at_least(1_000)
        assert celery.kill_a_child("w1")
        accepted_at_least(1_600)
        celery.kill_worker("w1")
        celery.worker("w2", concurrency=2)
        wait_for_completion(d.database, celery, timeout=200)
        stats = emulator.stats()
        report = campaign_report(
            d.database, DomainStore(d.database), "c", today=datetime.now(UTC).date(), message_kb=5
        )
    assert stats["reused_operation_ids"] == 0, "an Operation-Id was posted twice"
    exactly_once(stats, 3_000)
    assert report.by_state == {"accepted": 3_000}
    assert report.adds_up


HOURLY_CAP = 150
CAPPED = f"""
name: capped
quota: {{per_minute: 100000, per_hour: 1000000, headroom: 1.0}}
steps:
  - {{per_hour: {HOURLY_CAP}, per_day: {HOURLY_CAP * 24}}}
"""


@pytest.mark.timeout(200)
def test_after_a_redis_restart_mid_hour_the_hourly_cap_still_holds(
    tmp_path: Path, postgres_url: str
) -> None:
    # Redis here keeps nothing on disk: a restart forgets every limiter window. The dispatcher
    # rebuilds them from the ledger, so the domain does not spend its hour a second time.
    config = emulator_config(sender_domains=[DOMAIN], latency_ms=10)
    with deployment(tmp_path, postgres_url, 1_000, config, plan_yaml=CAPPED) as d:
        d.celery.worker("w1", concurrency=2)
        d.celery.beat()

        def accepted_when_quiet(seconds: float) -> int:
            deadline, last = time.monotonic() + 90, -1
            while d.emulator.stats()["accepted"] == 0:  # the workers are still starting
                assert time.monotonic() < deadline, d.celery.logs()
                time.sleep(0.2)
            since = time.monotonic()
            while time.monotonic() - since < seconds:
                assert time.monotonic() < deadline, d.celery.logs()
                now = d.emulator.stats()["accepted"]
                if now != last:
                    last, since = now, time.monotonic()
                time.sleep(0.2)
            return last

        assert accepted_when_quiet(4) == HOURLY_CAP
        d.redis.restart()
        assert accepted_when_quiet(8) == HOURLY_CAP  # the hour is still spent
        stats = d.emulator.stats()
        assert stats["max_accepted_in_any_hour"] == HOURLY_CAP
        log = (tmp_path / "w1.log").read_text(errors="replace")
        assert "the limiter's windows were lost" in log


@pytest.mark.timeout(200)
def test_workers_and_beat_keep_a_heartbeat_that_a_stuck_process_stops(
    tmp_path: Path, postgres_url: str
) -> None:
    # Heartbeats every 0.5 s here: stale after 3 s (six heartbeats).
    config = emulator_config(sender_domains=[DOMAIN], latency_ms=10)
    with deployment(tmp_path, postgres_url, 10, config, WARMUP_HEARTBEAT_SECONDS="0.5") as d:
        worker = d.celery.worker("w1", concurrency=1)
        beat = d.celery.beat()

        def alive(name: str) -> subprocess.CompletedProcess[str]:
            env = {**d.celery.env, "WARMUP_HEARTBEAT_FILE": str(d.celery.heartbeat(name))}
            return subprocess.run(
                [sys.executable, "-m", "warmup.probe", "--alive"],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )

        deadline = time.monotonic() + 60
        while alive("w1").returncode or alive("beat").returncode:
            assert time.monotonic() < deadline, d.celery.logs()
            time.sleep(0.5)
        for process, name in ((worker, "w1"), (beat, "beat")):
            os.kill(process.pid, signal.SIGSTOP)  # stuck: its loop runs no more
            try:
                time.sleep(4)
                stuck = alive(name)
                assert stuck.returncode == 1, name
                assert stuck.stderr.startswith("not alive: last heartbeat"), stuck.stderr
            finally:
                os.kill(process.pid, signal.SIGCONT)
            deadline = time.monotonic() + 30
            while alive(name).returncode:  # running again: alive again
                assert time.monotonic() < deadline, name
                time.sleep(0.5)
