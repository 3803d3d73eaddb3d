"""No sequence of calls and clock moves lets the allowance exceed any cap in any window.

Each generated run moves the clock, asks for the allowance, sends up to it (all of it, part of
it, to one provider group), and lets ops move the step or pause. Afterwards every send is
checked against a brute-force recount of its trailing minute, trailing hour and calendar day
(plan timezone), with the caps that were in force when it was sent.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.usage_log import UsageLog
from warmup.control.allowance import AcsQuota, allowance
from warmup.control.machine import new_domain
from warmup.control.ops import pause, resume, set_step
from warmup.control.state import Status
from warmup.plans.loader import load_plan
from warmup.plans.model import Plan, ProviderGroup

SCHEDULES = Path(__file__).parents[2] / "schedules"
PLANS = {path.stem: load_plan(path) for path in SCHEDULES.glob("*.yaml")}
START = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)


@dataclass
class Send:
    at: datetime
    n: int
    provider: ProviderGroup
    caps: dict[str, int]  # the caps in force when it was sent


def caps_in_force(plan: Plan, step: int, quota: AcsQuota) -> dict[str, int]:
    s = plan.step(step)
    caps = {
        "minute": math.floor(quota.per_minute * plan.quota.headroom),
        "hour": min(s.per_hour, math.floor(quota.per_hour * plan.quota.headroom)),
        "day": s.per_day,
    }
    if s.per_minute is not None:
        caps["minute"] = min(caps["minute"], s.per_minute)
    for group, share in (plan.providers or {}).items():
        caps[f"hour:{group.value}"] = math.floor(share * s.per_hour)
    return caps


def assert_no_window_exceeded(plan: Plan, sends: list[Send]) -> None:
    for i, send in enumerate(sends):
        upto = sends[: i + 1]
        minute = sum(s.n for s in upto if s.at > send.at - timedelta(minutes=1))
        hour = [s for s in upto if s.at > send.at - timedelta(hours=1)]
        day = send.at.astimezone(plan.zone).date()
        on_day = sum(s.n for s in upto if s.at.astimezone(plan.zone).date() == day)
        assert minute <= send.caps["minute"], (send, minute)
        assert sum(s.n for s in hour) <= send.caps["hour"], (send, hour)
        assert on_day <= send.caps["day"], (send, on_day)
        group_cap = send.caps.get(f"hour:{send.provider.value}")
        if group_cap is not None:
            in_group = sum(s.n for s in hour if s.provider is send.provider)
            assert in_group <= group_cap, (send, in_group)


action = st.one_of(
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=4 * 3600)),
    st.tuples(st.just("send"), st.floats(min_value=0.0, max_value=1.0)),
    st.tuples(st.just("send-group"), st.sampled_from(list(ProviderGroup))),
    st.tuples(st.just("step"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("pause"), st.just(0)),
)


@settings(max_examples=300, deadline=None)
@given(
    plan_name=st.sampled_from(sorted(PLANS)),
    quota=st.builds(
        AcsQuota,
        per_minute=st.integers(min_value=1, max_value=3000),
        per_hour=st.integers(min_value=1, max_value=200_000),
    ),
    actions=st.lists(action, min_size=1, max_size=120),
)
def test_allowance_never_exceeds_any_cap_in_any_window(
    plan_name: str, quota: AcsQuota, actions: list[tuple[str, object]]
) -> None:
    plan = PLANS[plan_name]
    now = START
    state = new_domain("d.example", plan, at=now, actor="test").state
    log = UsageLog(plan.zone)
    sends: list[Send] = []
    for kind, value in actions:
        if kind == "wait":
            now += timedelta(seconds=int(value))  # type: ignore[call-overload]
        elif kind == "step":
            state = set_step(
                plan, state, min(int(value), plan.last_step), actor="t", reason="t", at=now
            ).state  # type: ignore[call-overload]
        elif kind == "pause":
            if state.status is Status.PAUSED:
                state = resume(plan, state, actor="t", reason="t", at=now).state
            else:
                state = pause(state, actor="t", reason="t", at=now).state
        else:
            group = value if kind == "send-group" else ProviderGroup.OTHER
            assert isinstance(group, ProviderGroup)
            granted = allowance(plan, state, now, log.usage(now), quota)
            if state.status is Status.PAUSED:
                assert granted.total == 0
            wanted = granted.for_provider(group)
            n = wanted if kind == "send-group" else math.floor(wanted * float(value))  # type: ignore[arg-type]
            if n:
                log.record(now, n, group)
                sends.append(Send(now, n, group, caps_in_force(plan, state.step, quota)))
        now += timedelta(seconds=1)  # time moves between calls, as it does in a service
    assert_no_window_exceeded(plan, sends)


def test_a_full_greedy_day_reaches_but_never_passes_the_daily_cap() -> None:
    plan = PLANS["acs-default"]
    quota = AcsQuota(per_minute=plan.quota.per_minute, per_hour=plan.quota.per_hour)
    state = new_domain("d.example", plan, at=START, actor="t").state
    log = UsageLog(plan.zone)
    now = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    sends: list[Send] = []
    for _ in range(24 * 60):
        n = allowance(plan, state, now, log.usage(now), quota).total
        if n:
            log.record(now, n)
            sends.append(Send(now, n, ProviderGroup.OTHER, caps_in_force(plan, state.step, quota)))
        now += timedelta(minutes=1)
    assert sum(s.n for s in sends) == plan.steps[0].per_day
    assert all(s.at.hour >= 7 for s in sends)  # the window opens at 07:00
    assert_no_window_exceeded(plan, sends)
