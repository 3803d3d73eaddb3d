"""A held provider group's probe: a small share of its hourly cap, so that fresh reports can show
it recovered; nothing while paused or with no probe. Checked where the dispatcher asks (the
allowance) and where every send takes its permit (the limiter's windows)."""

from dataclasses import replace
from datetime import UTC, datetime

from warmup.control.allowance import AcsQuota, Usage, allowance
from warmup.control.machine import new_domain
from warmup.control.state import ProviderHold
from warmup.domains.record import DomainRecord
from warmup.pipeline.send_limits import send_limits, stopped_groups
from warmup.plans.loader import parse_plan
from warmup.plans.model import ProviderGroup

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
PLAN = parse_plan(
    """
name: probing
quota: {per_minute: 1000, per_hour: 100000, headroom: 1.0}
providers: {gmail: 50%, microsoft: 50%}
gates: {probe_share: 0.2}
provider_gates:
  microsoft: {probe_share: 0}
steps:
  - {per_hour: 1000, per_day: 10000}
"""
)
QUOTA = AcsQuota(per_minute=1000, per_hour=100_000)
GMAIL, MICROSOFT = ProviderGroup.GMAIL, ProviderGroup.MICROSOFT


def held(*holds: ProviderHold) -> DomainRecord:
    state = replace(new_domain("d.example", PLAN, at=T0, actor="ops").state, provider_holds=holds)
    return DomainRecord(id=1, state=state, plan=PLAN, quota=QUOTA, senders=(), version=1)


def test_a_held_group_gets_its_probe_and_the_others_cannot_take_it() -> None:
    record = held(ProviderHold(GMAIL, paused=False, reason="x", since=T0))
    granted = allowance(PLAN, record.state, T0, Usage(), QUOTA)
    assert granted.for_provider(GMAIL) == 100  # 20 % of its 500 an hour
    # The hour: 1,000 less gmail's 500, plus its probe; the others never take the probe's part.
    assert granted.total == 600
    assert granted.for_provider(MICROSOFT) == 500
    assert granted.for_provider(ProviderGroup.OTHER) == 500
    used = Usage(last_hour=580, provider_last_hour={GMAIL: 80, MICROSOFT: 500})
    later = allowance(PLAN, record.state, T0, used, QUOTA)
    assert later.for_provider(GMAIL) == 20
    assert later.for_provider(ProviderGroup.OTHER) == 0


def test_every_send_of_a_held_group_counts_against_its_probe() -> None:
    record = held(ProviderHold(GMAIL, paused=False, reason="x", since=T0))
    (gmail,) = [limit for limit in send_limits(record, "gmail", "s", 1.0) if ":p:" in limit.key]
    assert gmail.limit == 100
    free = held()
    (share,) = [limit for limit in send_limits(free, "gmail", "s", 1.0) if ":p:" in limit.key]
    assert share.limit == 500
    assert stopped_groups(record) == {}  # probing: its rows go out, within the probe


def test_a_paused_group_or_one_without_a_probe_sends_nothing() -> None:
    record = held(
        ProviderHold(GMAIL, paused=True, reason="spike", since=T0),
        ProviderHold(MICROSOFT, paused=False, reason="x", since=T0),
    )
    granted = allowance(PLAN, record.state, T0, Usage(), QUOTA)
    assert granted.for_provider(GMAIL) == 0
    assert granted.for_provider(MICROSOFT) == 0
    assert set(stopped_groups(record)) == {"gmail", "microsoft"}
    assert record.state.provider_hold(GMAIL).describe(0.2) == "gmail paused: spike"  # type: ignore[union-attr]
    probing = ProviderHold(GMAIL, paused=False, reason="x", since=T0)
    assert probing.describe(0.2) == "gmail held, probing at 20% of its share: x"
