"""A campaign on a domain whose transport is SMTP, through real Celery workers and beat, against
the emulator's SMTP listener (STARTTLS, AUTH LOGIN, the same quota and delivery reports)."""

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import DOMAIN, exactly_once
from tests.conftest import emulator_config
from tests.e2e.test_deployment import all_accepted, deployment, wait_for_completion
from tests.e2e.test_feedback_loop import api_server
from warmup.sending.transport import Transport
from warmup.store.models import LedgerRow

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RECIPIENTS = 150
PER_MINUTE = 100
THROTTLE = 5.0  # WARMUP_SMTP_THROTTLE_SECONDS: SMTP's 4xx carries no Retry-After
GRACE = 1.0  # messages already on the wire when the 451 came
CAPPED = f"""
name: capped-per-minute
quota: {{per_minute: 100000, per_hour: 1000000, headroom: 1.0}}
steps:
  - {{per_minute: {PER_MINUTE}, per_hour: 100000, per_day: 1000000}}
"""


@pytest.mark.timeout(300)
def test_an_smtp_campaign_sends_once_under_the_cap_and_a_451_burst_holds_every_worker(
    tmp_path: Path, postgres_url: str
) -> None:
    config = emulator_config(sender_domains=[DOMAIN], latency_ms=10, event_delay_seconds=0.2)
    with (
        deployment(
            tmp_path,
            postgres_url,
            RECIPIENTS,
            config,
            plan_yaml=CAPPED,
            transport=Transport.SMTP,
            WARMUP_SMTP_THROTTLE_SECONDS=str(THROTTLE),
            WARMUP_SMTP_CONNECTIONS="4",
        ) as d,
        api_server(d.database) as webhook,
    ):
        d.emulator.reconfigure(webhook_url=webhook)
        burst: list[float] = []

        def answer_451_once_sending() -> None:
            deadline = time.monotonic() + 120
            while d.emulator.stats()["accepted"] < 20:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            d.emulator.reconfigure(fault_429_rate=1.0)  # over SMTP: "451 4.7.500 Server busy"
            while d.emulator.stats()["injected"].get("429", 0) == 0:
                assert time.monotonic() < deadline
                time.sleep(0.002)
            burst.append(time.time())
            d.emulator.reconfigure(fault_429_rate=0.0)

        d.celery.worker("w1", concurrency=1)
        d.celery.worker("w2", concurrency=1)
        d.celery.beat()
        storm = threading.Thread(target=answer_451_once_sending)
        storm.start()
        wait_for_completion(d.database, d.celery, timeout=240)
        storm.join()
        stats = d.emulator.stats(include_recipients=True)
        exactly_once(stats, RECIPIENTS)
        all_accepted(d.database, RECIPIENTS)
        assert stats["smtp_messages"] == RECIPIENTS + stats["injected"]["429"]
        # The plan's cap held in every sliding minute, the throttle included.
        assert stats["max_accepted_in_any_minute"] <= PER_MINUTE
        # One worker heard the 451; nobody posted until the hold was over.
        posts = sorted(stats["send_request_walls"])
        during = [t for t in posts if burst[0] + GRACE < t < burst[0] + THROTTLE - GRACE]
        assert during == [], f"{len(during)} messages while every worker should hold back"
        # Every delivery report found its row by the Message-ID the row gave its message.
        deadline = time.monotonic() + 30
        while (reported := outcomes(d.database)) < RECIPIENTS:
            assert time.monotonic() < deadline, f"only {reported} rows have an outcome"
            time.sleep(0.25)


def outcomes(database) -> int:  # type: ignore[no-untyped-def]
    with database.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(LedgerRow).where(LedgerRow.outcome.is_not(None))
            )
            or 0
        )
