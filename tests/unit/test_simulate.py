from datetime import UTC, datetime
from pathlib import Path

import pytest

from warmup.control.allowance import AcsQuota
from warmup.control.simulate import DemandSchedule, FailureProfile, simulate
from warmup.control.state import Status
from warmup.plans.loader import load_plan

PLAN = load_plan(Path(__file__).parents[2] / "schedules" / "acs-default.yaml")
RAISED = AcsQuota(per_minute=PLAN.quota.per_minute, per_hour=PLAN.quota.per_hour)
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


def test_a_bounce_spike_holds_then_pauses_and_resume_steps_back() -> None:
    profile = FailureProfile.parse("8:1.5%,9:4%,11:0.5%")
    result = simulate(PLAN, start=MONDAY, days=30, profile=profile, quota=RAISED)
    actions = [(t.action, t.actor) for t in result.transitions if t.action != "create"]
    first_hold = actions.index(("hold", "health-gate"))
    first_pause = actions.index(("pause", "health-gate"))
    first_resume = actions.index(("resume", "ops (simulated)"))
    assert first_hold < first_pause < first_resume
    resumed = next(t for t in result.transitions if t.action == "resume")
    assert resumed.to_step == resumed.from_step - 1
    paused_days = [d for d in result.days if d.status is Status.PAUSED and not d.transitions]
    assert paused_days
    assert all(d.sent == 0 for d in paused_days)  # nothing goes out while paused
    assert result.days[-1].step > resumed.to_step  # and the ramp goes on afterwards


def test_healthy_run_follows_the_earliest_schedule() -> None:
    result = simulate(PLAN, start=MONDAY, days=19, profile=FailureProfile(), quota=RAISED)
    planned = [result.schedule.planned_cap(d.date) for d in result.days]
    assert [d.sent for d in result.days] == planned


def test_without_a_raised_quota_the_default_quota_binds() -> None:
    result = simulate(PLAN, start=MONDAY, days=10, profile=FailureProfile(), quota=AcsQuota())
    assert max(d.sent for d in result.days) <= 90 * 14  # 100/hour x 0.9 over a 14-hour window


def test_demand_limits_what_is_sent_and_slow_days_do_not_advance() -> None:
    result = simulate(
        PLAN,
        start=MONDAY,
        days=5,
        profile=FailureProfile(),
        quota=RAISED,
        demand=DemandSchedule.constant(150),
    )
    assert all(d.sent <= 150 for d in result.days)
    assert result.days[-1].step == 0  # 150 < half of 400: no sending day counted


def test_failure_profile_parsing() -> None:
    profile = FailureProfile.parse("5:1.5%, 6:0.04", base=0.001)
    assert [profile.failure_rate(d) for d in (4, 5, 6, 30)] == pytest.approx(
        [0.001, 0.015, 0.04, 0.04]
    )
    with pytest.raises(ValueError, match="DAY:RATE"):
        FailureProfile.parse("five:4%")
    with pytest.raises(ValueError, match="DAY:RATE"):
        FailureProfile.parse("5:140%")
