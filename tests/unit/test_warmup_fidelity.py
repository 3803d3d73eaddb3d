"""Issue 17: healthy streaks, hysteresis, blackout dates and the simulator that shows them.

Every check runs the real controller (``judge``, ``on_health``, ``on_day_end``), with time
passed in.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warmup.control.allowance import AcsQuota, Usage, allowance, in_window
from warmup.control.health import Level, OutcomeCounts, judge
from warmup.control.machine import (
    DayReport,
    new_domain,
    on_day_end,
    on_health,
    on_provider_health,
    on_readings,
    report_sinces,
)
from warmup.control.ops import release_provider
from warmup.control.simulate import DemandSchedule, FailureProfile, simulate
from warmup.control.state import HEALTH_GATE, DomainState, Status
from warmup.errors import TransitionError
from warmup.plans.loader import load_plan, parse_plan
from warmup.plans.model import Gates, Plan, ProviderGroup, Threshold
from warmup.plans.schedule import daily_capacity, earliest_schedule

T0 = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
PLAN = parse_plan(
    """
name: fidelity
advance: {healthy_days: 2, min_fraction_of_cap: 0.5}
rewarm: {idle_after_days: 7, after_idle_days: 30, to_step: 1}
steps:
  - {per_hour: 10, per_day: 100}
  - {per_hour: 20, per_day: 200}
  - {per_hour: 40, per_day: 400}
  - {per_hour: 80, per_day: 800}
"""
)


def failures(rate: float, n: int = 10_000) -> OutcomeCounts:
    failed = round(n * rate)
    return OutcomeCounts(delivered=n - failed, soft_failure=failed)


def test_release_lines_default_to_four_fifths_of_hold_and_may_be_set() -> None:
    assert Threshold(hold=0.01, pause=0.02).release_line == pytest.approx(0.008)
    assert Threshold(hold=0.01, pause=0.02, release=0.005).release_line == 0.005
    with pytest.raises(ValueError, match=r"release .* must be below hold"):
        Threshold(hold=0.01, pause=0.02, release=0.01)


def test_a_rate_between_release_and_hold_neither_holds_nor_releases() -> None:
    between = judge(failures(0.009), Gates())
    assert between.level is Level.WARN
    assert not between.clear
    below = judge(failures(0.006), Gates())
    assert below.level is Level.OK
    assert below.clear  # surely below the 0.8 % release line
    assert below.reason == "failure rate 0.6 % (95 %: 0.46–0.78 %) over 10,000 reports is healthy"


def test_a_rate_oscillating_on_the_hold_line_holds_once_and_does_not_flap() -> None:
    # ±0.05 % around the 1 % hold line, judged every minute for six hours, on samples large
    # enough that the intervals are narrower than the swing.
    state = new_domain("d.example", PLAN, at=T0, actor="ops").state
    holds = releases = 0
    for minute in range(6 * 60):
        rate = 0.0105 if minute % 2 else 0.0095
        reading = judge(failures(rate, n=2_000_000), PLAN.gates)
        decision = on_health(PLAN, state, reading, at=T0 + timedelta(minutes=minute))
        state = decision.state
        holds += sum(t.action == "hold" for t in decision.transitions)
        releases += sum(t.action == "release" for t in decision.transitions)
    assert holds == 1
    assert releases <= 1
    assert state.status is Status.HOLDING  # 0.95 % is not below the 0.8 % release line


def test_a_hold_lasts_its_minimum_even_when_the_rate_falls_at_once() -> None:
    state = new_domain("d.example", PLAN, at=T0, actor="ops").state
    state = on_health(PLAN, state, judge(failures(0.012), PLAN.gates), at=T0).state
    clear = judge(failures(0.002), PLAN.gates)
    for minute in range(1, PLAN.gates.min_hold_minutes):
        at = T0 + timedelta(minutes=minute)
        assert on_health(PLAN, state, clear, at=at).transitions == ()
    at = T0 + timedelta(minutes=PLAN.gates.min_hold_minutes)
    assert on_health(PLAN, state, clear, at=at).state.status is Status.RAMPING


def test_the_issue_scenario_advances_only_after_two_consecutive_healthy_days() -> None:
    plan = load_plan(Path("schedules/acs-default.yaml"))
    result = simulate(
        plan,
        start=datetime(2026, 12, 7, tzinfo=plan.zone),
        days=21,
        profile=FailureProfile.parse("4:3%,5:0.5%,9:4%,10:0.5%"),
        quota=AcsQuota(per_minute=10_000, per_hour=1_000_000),
    )
    by_day = {day.day: day for day in result.days}
    assert any(t.action == "hold" for t in by_day[4].transitions)
    troubled = [
        d.day for d in result.days if any(t.action in {"hold", "pause"} for t in d.transitions)
    ]
    advances = [(d.day, t) for d in result.days for t in d.transitions if t.action == "advance"]
    after_hold = [(n, t) for n, t in advances if n > 4]
    assert after_hold, advances
    for day, advance in after_hold:
        # The reason names the two days that counted: the last two sending days, both
        # after the last hold or pause, with no hold, pause or release of their own.
        sending = [d for d in result.days if d.day <= day and d.sent > 0][-2:]
        named = ", ".join(d.date.isoformat() for d in sending)
        assert f"consecutive healthy sending days at step {advance.from_step}: {named}" in (
            advance.reason
        )
        last_trouble = max(n for n in troubled if n <= day)
        assert sending[0].day > last_trouble
        assert all(not d.transitions for d in sending[:-1])
    # Day 5 was held until its afternoon: it does not count (the issue's "days 3 and 5").
    assert all(by_day[5].date.isoformat() not in t.reason for _, t in advances)


def test_blackout_dates_send_nothing_and_do_not_break_the_streak() -> None:
    plan = parse_plan(
        """
name: holidays
advance: {healthy_days: 2}
blackout_dates: [2026-12-24, 2026-12-25]
steps:
  - {per_hour: 10, per_day: 100}
  - {per_hour: 20, per_day: 200}
"""
    )
    eve = datetime(2026, 12, 24, 10, tzinfo=UTC)
    assert not in_window(plan, eve)
    state = new_domain("d.example", plan, at=T0, actor="ops").state
    blocked = allowance(plan, state, eve, Usage(), AcsQuota(per_minute=30, per_hour=100))
    assert (blocked.total, blocked.limited_by) == (0, "a blackout date")
    schedule = earliest_schedule(plan, date(2026, 12, 23))
    # Two healthy sending days, the 23rd and the 26th: step 1 from the next sending day.
    assert schedule.rows[1].reached_on == date(2026, 12, 27)
    result = simulate(
        plan,
        start=datetime(2026, 12, 23, tzinfo=UTC),
        days=4,
        profile=FailureProfile(base=0.002),
        quota=AcsQuota(per_minute=30, per_hour=100),
    )
    assert [d.sent > 0 for d in result.days] == [True, False, False, True]
    assert [d.note for d in result.days] == ["", "blackout", "blackout", ""]
    assert result.days[-1].step == 1  # the 23rd and the 26th: consecutive sending days


def test_a_demand_gap_goes_idle_then_rewarms_to_the_plans_step() -> None:
    demand = DemandSchedule.parse("1-10:5000,11-45:0,46-:5000")
    assert (demand.on(1), demand.on(11), demand.on(45), demand.on(46), demand.on(400)) == (
        5000,
        0,
        0,
        5000,
        5000,
    )
    result = simulate(
        PLAN,
        start=T0,
        days=50,
        profile=FailureProfile(base=0.002),
        quota=AcsQuota(per_minute=10_000, per_hour=1_000_000),
        demand=demand,
    )
    actions = [(d.day, t.action, t.to_step) for d in result.days for t in d.transitions]
    assert result.days[9].step == PLAN.last_step  # warmed up by day 10
    idle_day = next(day for day, action, _ in actions if action == "idle")
    rewarm = next((day, step) for day, action, step in actions if action == "rewarm")
    assert idle_day == 10 + PLAN.rewarm.idle_after_days
    assert rewarm == (10 + PLAN.rewarm.after_idle_days, PLAN.rewarm.to_step)
    assert result.days[45].sent > 0
    assert result.days[45].step == PLAN.rewarm.to_step
    assert result.days[20].note == "no demand"


@pytest.mark.parametrize(
    "text", ["x", "1-:", "0-3:10", "5-3:10", "1-3", "1-3:-5", "a-b:3", "3:ten"]
)
def test_demand_schedules_are_parsed_strictly(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected FIRST-LAST:COUNT|before the first"):
        DemandSchedule.parse(text)


# --- properties ---------------------------------------------------------------------------

DAY_KINDS = st.sampled_from(["healthy", "quiet", "held", "unhealthy", "paused"])


@settings(max_examples=300, deadline=None)
@given(st.lists(DAY_KINDS, min_size=1, max_size=40))
def test_no_advance_without_n_consecutive_healthy_days_since_the_last_trouble(
    kinds: list[str],
) -> None:
    state: DomainState = new_domain("d.example", PLAN, at=T0, actor="ops").state
    clean_since_trouble = 0
    for index, kind in enumerate(kinds):
        start = T0 + timedelta(days=index)
        noon = start + timedelta(hours=12)
        if kind == "held":
            state = on_health(PLAN, state, judge(failures(0.015), PLAN.gates), at=noon).state
            released = judge(failures(0.001), PLAN.gates)
            state = on_health(PLAN, state, released, at=noon + timedelta(hours=2)).state
        if kind == "paused":
            state = on_health(PLAN, state, judge(failures(0.05), PLAN.gates), at=noon).state
            state = replace(state, status=Status.RAMPING, held_by=None)  # ops resumed
            state = replace(state, troubled_at=noon + timedelta(hours=1))
        cap = daily_capacity(PLAN, PLAN.step(state.step))
        report = DayReport(
            sent=0 if kind == "quiet" else cap,
            cap=cap,
            start=start,
            unhealthy="rate at the day's end ≥ hold" if kind == "unhealthy" else None,
        )
        before = state.step
        decision = on_day_end(PLAN, state, report, at=start + timedelta(days=1))
        state = decision.state
        if kind == "healthy":
            clean_since_trouble += 1
        elif kind != "quiet":
            clean_since_trouble = 0
        if state.step > before:
            assert clean_since_trouble >= PLAN.advance.healthy_days, kinds[: index + 1]
            clean_since_trouble = 0
        # Caps never exceed the plan's: the step is always one of the plan's.
        assert 0 <= state.step <= PLAN.last_step
        assert state.status is not Status.HOLDING or state.held_by == HEALTH_GATE


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=0.05), min_size=1, max_size=120),
    st.integers(min_value=0, max_value=3),
)
def test_allowance_never_exceeds_the_plans_caps_whatever_the_rates(
    rates: list[float], step: int
) -> None:
    state = replace(new_domain("d.example", PLAN, at=T0, actor="ops").state, step=step)
    quota = AcsQuota(per_minute=10_000, per_hour=1_000_000)
    for minute, rate in enumerate(rates):
        at = T0 + timedelta(minutes=15 * minute)
        state = on_health(PLAN, state, judge(failures(rate), PLAN.gates), at=at).state
        granted = allowance(PLAN, state, at, Usage(), quota).total
        assert granted <= PLAN.step(state.step).per_hour
        assert state.step <= step  # health never raises the step


# --- per-provider gates -------------------------------------------------------------------

SHARED = parse_plan(
    """
name: shared
quota: {per_minute: 1000, per_hour: 10000, headroom: 1.0}
providers: {gmail: 50%, microsoft: 50%, yahoo: 50%, other: 100%}
provider_gates:
  gmail: {complaint_rate: {hold: 0.05%, pause: 0.2%}, min_hold_minutes: 30}
steps:
  - {per_hour: 100, per_day: 1000}
  - {per_hour: 200, per_day: 2000}
"""
)


def test_provider_gates_default_to_the_domains_and_override_field_by_field() -> None:
    gmail = SHARED.gates_for(ProviderGroup.GMAIL)
    assert gmail.complaint_rate.hold == pytest.approx(0.0005)
    assert gmail.min_hold_minutes == 30
    assert gmail.failure_rate == SHARED.gates.failure_rate  # not named: the domain's
    assert SHARED.gates_for(ProviderGroup.YAHOO) == SHARED.gates


def test_a_provider_hold_stops_that_group_only_and_its_share_is_not_given_to_others() -> None:
    state = new_domain("d.example", SHARED, at=T0, actor="ops").state
    before = allowance(SHARED, state, T0, Usage(), AcsQuota(per_minute=1000, per_hour=10_000))
    held = on_provider_health(
        SHARED, state, ProviderGroup.GMAIL, judge(failures(0.03), SHARED.gates), at=T0
    )
    (transition,) = held.transitions
    assert transition.action == "provider-pause"
    assert transition.reason.startswith("gmail: failure rate 3 %")
    assert held.state.status is Status.RAMPING  # the domain itself keeps going
    after = allowance(SHARED, held.state, T0, Usage(), AcsQuota(per_minute=1000, per_hour=10_000))
    assert (before.total, after.total) == (100, 50)  # gmail's 50 % stays unused
    assert after.for_provider(ProviderGroup.GMAIL) == 0
    assert after.for_provider(ProviderGroup.MICROSOFT) == 50  # its own cap, no more
    assert after.for_provider(ProviderGroup.OTHER) == 50
    # A pause is lifted by ops only; a hold by the gates, after its minimum.
    clear = judge(failures(0.001), SHARED.gates)
    later = T0 + timedelta(days=3)
    assert (
        on_provider_health(SHARED, held.state, ProviderGroup.GMAIL, clear, at=later).transitions
        == ()
    )
    released = release_provider(
        held.state, ProviderGroup.GMAIL, actor="ops", reason="list cleaned", at=later
    )
    assert released.state.provider_holds == ()
    with pytest.raises(TransitionError, match="gmail is not held"):
        release_provider(released.state, ProviderGroup.GMAIL, actor="ops", reason="x", at=later)


def test_a_held_provider_is_released_only_on_fresh_clear_reports_once_a_day() -> None:
    state = new_domain("d.example", SHARED, at=T0, actor="ops").state
    gmail = ProviderGroup.GMAIL
    state = on_provider_health(
        SHARED, state, gmail, judge(failures(0.015), SHARED.gates), at=T0
    ).state
    assert state.provider_hold(gmail) is not None
    assert state.healthy_days_at_step == 0
    # Its probe's reports since the hold: too few, however long ago the hold began.
    few = judge(failures(0.001, n=100), SHARED.gates)
    for hours in (1, 24, 24 * 7):
        later = T0 + timedelta(hours=hours)
        assert on_provider_health(SHARED, state, gmail, few, at=later, fresh=few).transitions == ()
    clear = judge(failures(0.001), SHARED.gates)
    soon = T0 + timedelta(minutes=29)
    assert on_provider_health(SHARED, state, gmail, clear, at=soon, fresh=clear).transitions == ()
    at = T0 + timedelta(minutes=30)
    released = on_provider_health(SHARED, state, gmail, clear, at=at, fresh=clear)
    (release,) = released.transitions
    assert release.action == "provider-release"
    assert release.reason.startswith("gmail: since the hold: failure rate 0.1 % (95 %:")
    mark = released.state.gate_mark("gmail")
    assert (mark.released_at, mark.judged_since) == (at, T0)
    # Held again the same day: it waits for the next day to be released again.
    again = on_provider_health(
        SHARED, released.state, gmail, judge(failures(0.02), SHARED.gates), at=at
    ).state
    assert again.provider_hold(gmail) is not None
    evening = T0 + timedelta(hours=23)
    assert (
        on_provider_health(SHARED, again, gmail, clear, at=evening, fresh=clear).transitions == ()
    )
    tomorrow = T0 + timedelta(days=1, hours=1)
    (second,) = on_provider_health(
        SHARED, again, gmail, clear, at=tomorrow, fresh=clear
    ).transitions
    assert second.action == "provider-release"


def test_the_simulator_holds_gmail_alone_when_only_gmail_fails() -> None:
    result = simulate(
        SHARED,
        start=T0,
        days=3,
        profile=FailureProfile(base=0.002),
        quota=AcsQuota(per_minute=1000, per_hour=10_000),
        mix={ProviderGroup.GMAIL: 0.4, ProviderGroup.MICROSOFT: 0.4, ProviderGroup.OTHER: 0.2},
        provider_profiles={ProviderGroup.GMAIL: FailureProfile(base=0.04)},
    )
    actions = [t.action for d in result.days for t in d.transitions]
    assert "provider-hold" in actions
    assert all(
        t.reason.startswith("gmail: ")
        for d in result.days
        for t in d.transitions
        if t.action.startswith("provider-")
    )
    assert "hold" not in actions
    assert "pause" not in actions
    first = result.days[0]
    assert first.provider_sent["gmail"] < first.provider_sent["microsoft"]


def reports_of(
    state: DomainState, plan: Plan, at: datetime, by_group: dict[ProviderGroup, OutcomeCounts]
) -> dict[datetime, dict[ProviderGroup, OutcomeCounts]]:
    """The same counts from every moment the gates ask for (all reports are recent)."""
    return {since: dict(by_group) for since in report_sinces(plan, state, at)}


def test_one_cause_one_decision_the_domain_judges_the_groups_sending_normally() -> None:
    state = new_domain("d.example", SHARED, at=T0, actor="ops").state
    bad, good = failures(0.03, n=2000), failures(0.004, n=2000)
    # Trouble only gmail has: gmail alone is stopped, the domain judges the others.
    gmail_only = on_readings(
        SHARED,
        state,
        reports_of(state, SHARED, T0, {ProviderGroup.GMAIL: bad, ProviderGroup.OTHER: good}),
        at=T0,
    )
    assert gmail_only.state.status is Status.RAMPING
    assert gmail_only.state.held_providers == {ProviderGroup.GMAIL}
    # Trouble everywhere: the domain's gates decide for all, and no group is stopped on top.
    everywhere = on_readings(
        SHARED,
        state,
        reports_of(state, SHARED, T0, {ProviderGroup.GMAIL: bad, ProviderGroup.OTHER: bad}),
        at=T0,
    )
    assert everywhere.state.status is Status.PAUSED
    assert everywhere.state.provider_holds == ()
    # One group carries all the mail: there is no rest to compare, so the domain decides.
    alone = on_readings(
        SHARED,
        state,
        reports_of(state, SHARED, T0, {ProviderGroup.OTHER: failures(0.015, n=20_000)}),
        at=T0,
    )
    assert alone.state.status is Status.HOLDING
    assert alone.state.provider_holds == ()


def test_a_group_too_small_for_its_own_gates_is_still_found_out_by_the_domains() -> None:
    # 108 gmail reports, under the 200 a gate needs: the domain fails as a whole, but without
    # gmail it is healthy, and gmail's own interval is surely above the hold line.
    state = new_domain("d.example", SHARED, at=T0, actor="ops").state
    reports = reports_of(
        state,
        SHARED,
        T0,
        {
            ProviderGroup.GMAIL: failures(0.1, n=108),
            ProviderGroup.MICROSOFT: failures(0.005, n=200),
            ProviderGroup.OTHER: failures(0.005, n=200),
        },
    )
    decision = on_readings(SHARED, state, reports, at=T0)
    assert decision.state.status is Status.RAMPING
    assert decision.state.held_providers == {ProviderGroup.GMAIL}
