"""Issue 17's per-provider gates on the real send path: the emulator's delivery reports reach the
running API's webhook, Gmail's own failure rate holds Gmail alone, and from then on no Gmail
recipient is sent while Microsoft and other traffic goes on."""

import time
from collections import Counter
from pathlib import Path

import pytest

from harness.pipeline_world import DOMAIN, world
from tests.cli import cli, url_of
from tests.e2e.test_feedback_loop import api_server, step
from warmup.control.state import Status
from warmup.plans.model import ProviderGroup

pytestmark = pytest.mark.integration
PLAN = """
name: provider-gates
quota: {per_minute: 1000000, per_hour: 10000000, headroom: 1.0}
gates:
  window_hours: 24
  min_sample: 150
  min_hold_minutes: 60
  failure_rate: {hold: 1%, pause: 5%}
  hard_bounce_rate: {hold: 1%, pause: 5%}
  # No probe: a held group sends nothing at all, so that any Gmail send while held is a fault.
  # (With one, its traffic is its probe's: tests/unit/test_probe.py.)
  probe_share: 0
steps:
  - {per_minute: 1000000, per_hour: 10000000, per_day: 100000000}
"""


def recipients(per_group: int) -> list[str]:
    # One Gmail recipient in 40 bounces (2.5 %: above Gmail's hold line, below its pause
    # line); the domain as a whole stays near 0.8 %, below its own hold line.
    addresses: list[str] = []
    for i in range(per_group):
        addresses.append(f"bounce+{i}@gmail.com" if i % 40 == 39 else f"g{i}@gmail.com")
        addresses.append(f"m{i}@outlook.com")
        addresses.append(f"o{i}@example.org")
    return addresses


def accepted_by_group(stats: dict[str, object]) -> Counter[str]:
    accepted = stats["accepted_per_recipient"]
    assert isinstance(accepted, dict)
    return Counter(address.rpartition("@")[2] for address in accepted)


@pytest.mark.timeout(180)
def test_a_gmail_spike_holds_gmail_alone_and_no_gmail_recipient_is_sent_while_held(
    database_url: str, tmp_path: Path
) -> None:
    with (
        world(
            database_url,
            tmp_path,
            recipients=0,
            addresses=recipients(1_500),
            plan_yaml=PLAN,
            seed=3,
            event_delay_seconds=0.02,
            settings_overrides={"max_claim_per_tick": 60},
        ) as w,
        api_server(w.database) as webhook,
    ):
        w.emulator.reconfigure(webhook_url=webhook)
        deadline = time.monotonic() + 120
        while not w.domains.get(DOMAIN).state.provider_holds:
            assert time.monotonic() < deadline, "Gmail was never held"
            step(w)
            time.sleep(0.05)
        state = w.domains.get(DOMAIN).state
        (hold,) = state.provider_holds
        assert hold.group is ProviderGroup.GMAIL
        assert not hold.paused
        assert state.status is Status.RAMPING  # the domain itself is healthy and sends on
        time.sleep(0.3)  # batches already running see the hold within the gate's TTL
        at_hold = accepted_by_group(w.emulator.stats(include_recipients=True))
        for _ in range(20):
            step(w)
            time.sleep(0.05)
        after = accepted_by_group(w.emulator.stats(include_recipients=True))
        assert after["gmail.com"] == at_hold["gmail.com"], "a Gmail recipient was sent while held"
        assert after["outlook.com"] > at_hold["outlook.com"]
        assert after["example.org"] > at_hold["example.org"]
        assert w.domains.get(DOMAIN).state.held_providers == {ProviderGroup.GMAIL}

        url = url_of(w.database)
        shown = cli(url, "domain", "status", DOMAIN)
        assert shown.returncode == 0, shown.stderr
        assert "gmail held: failure rate" in shown.stdout
        assert "provider-hold by health-gate: gmail: failure rate" in shown.stdout
        released = cli(url, "domain", "release", DOMAIN, "--provider", "gmail")
        assert released.returncode == 0, released.stderr
        assert not w.domains.get(DOMAIN).state.provider_holds
        for _ in range(10):
            step(w)
            time.sleep(0.05)
        final = accepted_by_group(w.emulator.stats(include_recipients=True))
        assert final["gmail.com"] > at_hold["gmail.com"]  # released: Gmail goes again
