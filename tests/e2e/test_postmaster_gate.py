"""Issue 35's Postmaster gate through beat, with real processes: a worker and beat on a clock
where a day lasts a few seconds, a Redis of the test's own, PostgreSQL, and the emulator's
Postmaster Tools routes. Google publishes each day of the series HIGH, HIGH, MEDIUM, LOW at
0.05, 0.08, 0.15 and 0.35 % partway through the next day; beat's pull keeps it, and the next
day close judges it: the gmail group is held on day 3's figures and paused on day 4's, while
every other group keeps sending."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from harness.deployment import RedisServer, running_celery
from harness.pipeline_world import DOMAIN, seed_campaign
from harness.postmaster import issue_series, service_account_file
from tests.conftest import emulator_config
from tests.e2e.test_deployment import environment
from warmup.clock import ScaledClock
from warmup.control.state import POSTMASTER_GATE
from warmup.emulator.server import EmulatorServer
from warmup.plans.model import ProviderGroup
from warmup.store.database import Database
from warmup.wiring import Stores

pytestmark = pytest.mark.integration

DAY_SECONDS = 6.0
SCALE = 86400 / DAY_SECONDS
# No probe: a held gmail group sends nothing, so any Gmail send after the hold is a fault.
PLAN = """
name: postmaster-e2e
quota: {per_minute: 1000000, per_hour: 10000000, headroom: 1.0}
gates: {probe_share: 0}
postmaster:
  spam_rate: {hold: 0.1%, pause: 0.3%}
  reputation: {hold: LOW, pause: BAD}
steps:
  - {per_hour: 300, per_day: 300}
"""


def by_group(emulator: EmulatorServer) -> Counter[str]:
    accepted = emulator.stats(include_recipients=True)["accepted_per_recipient"]
    return Counter(address.rpartition("@")[2] for address in accepted)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_series_holds_then_pauses_gmail_through_beat_while_the_others_send(
    tmp_path: Path, postgres_url: str
) -> None:
    # A clock whose "now" is the coming UTC midnight: day 1 starts as the processes start.
    real = time.time()
    midnight = (real // 86400 + 1) * 86400
    clock = ScaledClock(SCALE, (real * SCALE - midnight) / (SCALE - 1))
    day1 = clock.now().date()
    addresses = [
        f"{who}{i}@{host}"
        for i in range(1000)
        for who, host in (("g", "gmail.com"), ("m", "outlook.com"), ("o", "example.org"))
    ]
    database = Database.connect(postgres_url, migrate=True)
    seed_campaign(
        database, tmp_path, recipients=0, plan_yaml=PLAN, addresses=addresses, now=clock.now()
    )
    series = issue_series(DOMAIN, day1)
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with EmulatorServer(emulator_config(sender_domains=[DOMAIN])) as emulator:
            emulator.reconfigure(postmaster_days={DOMAIN: []})
            credentials = service_account_file(tmp_path, emulator.url)
            env = environment(
                postgres_url,
                redis.url,
                emulator.url,
                WARMUP_CLOCK_SCALE=repr(SCALE),
                WARMUP_CLOCK_ORIGIN=repr(clock.origin),
                # Leases in clock time: 30 real seconds, as the demo sets them.
                WARMUP_LEASE_SECONDS=repr(30 * SCALE),
                WARMUP_LIVE_LEASE_SECONDS=repr(10 * SCALE),
                WARMUP_QUEUE_LEASE_SECONDS=repr(15 * SCALE),
                WARMUP_POSTMASTER_CREDENTIALS_FILE=str(credentials),
                WARMUP_POSTMASTER_ENDPOINT=emulator.url,
                WARMUP_POSTMASTER_PULL_MINUTES="0.02",  # every 1.2 real seconds
            )
            with running_celery(env, tmp_path) as celery:
                celery.worker()
                celery.beat()
                run(database, emulator, clock, day1, series)
    finally:
        redis.stop()
        database.dispose()


def run(
    database: Database,
    emulator: EmulatorServer,
    clock: ScaledClock,
    day1: date,
    series: list[dict[str, object]],
) -> None:
    domains = Stores(database).domains
    published: list[dict[str, object]] = []
    deadline = time.monotonic() + 200
    paused_at: Counter[str] | None = None
    while True:
        assert time.monotonic() < deadline, [e.reason for e in domains.audit(DOMAIN, 20)]
        now = clock.now()
        # Google publishes day n partway (40 %) through day n + 1.
        due = [
            item
            for n, item in enumerate(series, start=1)
            if now >= midnight(day1 + timedelta(days=n)) + timedelta(days=0.4)
        ]
        if len(due) > len(published):
            published = due
            emulator.reconfigure(postmaster_days={DOMAIN: published})
        hold = domains.get(DOMAIN).state.provider_hold(ProviderGroup.GMAIL)
        if paused_at is None and hold is not None and hold.paused:
            paused_at, paused_day = by_group(emulator), now.date()
        if paused_at is not None and now.date() >= paused_day + timedelta(days=2):
            break
        time.sleep(0.1)
    after = by_group(emulator)
    entries = list(reversed(domains.audit(DOMAIN, limit=50)))
    story = "\n".join(f"{e.at:%m-%d %H:%M} {e.action} {e.actor}: {e.reason}" for e in entries)
    gated = [e for e in entries if e.actor == POSTMASTER_GATE]
    assert [e.action for e in gated] == ["provider-hold", "provider-pause"], story
    hold, pause = gated
    day3, day4 = day1 + timedelta(days=2), day1 + timedelta(days=3)
    assert f"Postmaster {day3}: user-reported spam 0.15 %" in hold.reason
    assert "spam ≥ hold 0.1 %" in hold.reason
    assert f"Postmaster {day4}: user-reported spam 0.35 %" in pause.reason
    assert "spam ≥ pause 0.3 %" in pause.reason
    # Judged at the close of the day each was published on: a day or more late.
    assert hold.at == midnight(day3 + timedelta(days=2)), story
    assert pause.at == midnight(day4 + timedelta(days=2)), story
    # Days 1 and 2 (HIGH, 0.05 % and 0.08 %) changed nothing; the domain never stopped.
    assert domains.get(DOMAIN).state.status.value == "ramping"
    # No Gmail recipient since the pause (none since the hold, with no probe), while the
    # others went on sending over the next two days.
    assert after["gmail.com"] == paused_at["gmail.com"], (paused_at, after)
    assert after["outlook.com"] > paused_at["outlook.com"], (paused_at, after)
    assert after["example.org"] > paused_at["example.org"], (paused_at, after)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
