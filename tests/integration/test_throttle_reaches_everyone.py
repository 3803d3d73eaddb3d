"""A long 429 reaches every worker: nothing is posted to ACS until its Retry-After has passed,
even when it is longer than the wait a sender would sit out in place."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import pytest

from harness.pipeline_world import exactly_once, world
from warmup.campaigns.report import campaign_report
from warmup.domains.store import DomainStore

pytestmark = pytest.mark.integration

RETRY_AFTER = 60  # seconds ACS asks for
IN_PLACE_CAP = 20  # the longest a sender waits in place (WARMUP_RETRY_AFTER_CAP_SECONDS)
GRACE = 2.0  # requests already on the wire when the 429 came


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_429_longer_than_the_in_place_cap_holds_every_worker_back(
    postgres_url: str, tmp_path: Path
) -> None:
    with world(
        postgres_url,
        tmp_path,
        recipients=60,
        settings_overrides={"retry_after_cap_seconds": IN_PLACE_CAP, "send_concurrency": 4},
        fault_429_rate=1.0,
        fault_retry_after_seconds=RETRY_AFTER,
    ) as w:
        # Heal ACS as soon as it has said 429 once: only that one answer asks for the wait.
        def heal() -> None:
            deadline = time.monotonic() + 30
            while w.emulator.stats()["injected"].get("429", 0) == 0:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            w.emulator.reconfigure(fault_429_rate=0.0)

        healer = threading.Thread(target=heal)
        healer.start()
        w.run_until_done(workers=3, timeout=150)
        healer.join()
        stats = w.emulator.stats(include_recipients=True)
        report = campaign_report(
            w.database, DomainStore(w.database), "c", today=date.today(), message_kb=5
        )
    posts = sorted(stats["send_request_walls"])
    first_429 = posts[0]
    during = [t for t in posts if first_429 + GRACE < t < first_429 + RETRY_AFTER]
    assert during == [], f"{len(during)} requests during the {RETRY_AFTER} s Retry-After"
    # A throttle stops the queue: once the 429 was answered, only requests already on the wire
    # (at most the 4 send slots, the 429's own included) reached ACS before the deadline; rows
    # readied ahead of a slot, holding permits, were held back at the wire.
    answered = min(stats["throttle_walls"])
    after = [t for t in posts if answered < t < first_429 + RETRY_AFTER]
    assert len(after) <= 4, f"{len(after)} requests reached ACS after the 429 was answered"
    assert posts[-1] >= first_429 + RETRY_AFTER  # the campaign went on afterwards
    exactly_once(stats, 60)
    assert report.by_state == {"accepted": 60}
    assert report.adds_up
