"""Every transition of the warm-up state machine, with the time passed in."""

from datetime import UTC, datetime, timedelta

import pytest

from warmup.control.health import Level, OutcomeCounts, Verdict
from warmup.control.machine import DayReport, new_domain, on_day_end, on_health
from warmup.control.ops import apply_plan, hold, pause, release, resume, set_step
from warmup.control.state import HEALTH_GATE, SYSTEM, DomainState, Status
from warmup.errors import TransitionError
from warmup.plans.loader import parse_plan

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PLAN = parse_plan(
    """
name: three
advance: {healthy_days: 2, min_fraction_of_cap: 0.5}
resume: {step_back: 1}
rewarm: {idle_after_days: 3, after_idle_days: 5, to_step: 0}
steps:
  - {per_hour: 10, per_day: 100}
  - {per_hour: 20, per_day: 200}
  - {per_hour: 40, per_day: 400}
"""
)
FULL_DAY = DayReport(sent=100, cap=100)
VERDICT = {
    level: Verdict(level, f"{level.name.lower()} reason", OutcomeCounts(delivered=1000))
    for level in Level
}
CLEAR = Verdict(Level.OK, "ok, below every release line", OutcomeCounts(delivered=1000), clear=True)
MIN_HOLD = timedelta(minutes=PLAN.gates.min_hold_minutes)


def fresh(**changes: object) -> DomainState:
    state = new_domain("mail.example.com", PLAN, at=T0, actor="ops@example.com").state
    from dataclasses import replace

    return replace(state, **changes)  # type: ignore[arg-type]


def test_a_new_domain_starts_ramping_at_step_zero_with_an_audit_entry() -> None:
    decision = new_domain("mail.example.com", PLAN, at=T0, actor="ops@example.com")
    assert decision.state.status is Status.RAMPING
    assert decision.state.step == 0
    (created,) = decision.transitions
    assert (created.action, created.actor, created.at) == ("create", "ops@example.com", T0)


def test_advances_after_the_required_healthy_sending_days() -> None:
    first = on_day_end(PLAN, fresh(), FULL_DAY, at=T0)
    assert first.state.step == 0
    assert first.state.healthy_days_at_step == 1
    assert first.transitions == ()
    second = on_day_end(PLAN, first.state, FULL_DAY, at=T0 + timedelta(days=1))
    assert second.state.step == 1
    assert second.state.healthy_days_at_step == 0
    (advance,) = second.transitions
    assert advance.action == "advance"
    assert advance.actor == SYSTEM
    assert "2 consecutive healthy sending days at step 0" in advance.reason
    assert "20/hour, 200/day" in advance.reason


def test_a_day_below_the_sending_fraction_does_not_count() -> None:
    decision = on_day_end(PLAN, fresh(), DayReport(sent=49, cap=100), at=T0)
    assert decision.state.healthy_days_at_step == 0
    assert decision.state.sending_days == 0
    assert decision.state.idle_days == 1
    counted = on_day_end(PLAN, fresh(), DayReport(sent=50, cap=100), at=T0)
    assert counted.state.sending_days == 1


def test_reaching_the_last_step_completes_the_ramp() -> None:
    state = fresh(step=1, healthy_days_at_step=1)
    decision = on_day_end(PLAN, state, FULL_DAY, at=T0)
    assert decision.state.step == 2
    assert decision.state.status is Status.COMPLETED
    # and a completed domain stays at its last step
    again = on_day_end(PLAN, decision.state, FULL_DAY, at=T0)
    assert again.state.step == 2


def test_a_holding_domain_does_not_advance() -> None:
    state = fresh(status=Status.HOLDING, held_by=HEALTH_GATE, healthy_days_at_step=1)
    decision = on_day_end(PLAN, state, FULL_DAY, at=T0)
    assert decision.state.step == 0
    assert decision.state.sending_days == 1


def test_health_hold_then_release_by_the_gate() -> None:
    held = on_health(PLAN, fresh(), VERDICT[Level.HOLD], at=T0)
    assert held.state.status is Status.HOLDING
    assert held.state.held_by == HEALTH_GATE
    assert held.transitions[0].reason == "hold reason"
    # Healthy but not below the release line, or not held long enough: still holding.
    assert on_health(PLAN, held.state, VERDICT[Level.OK], at=T0 + 2 * MIN_HOLD).transitions == ()
    assert on_health(PLAN, held.state, CLEAR, at=T0 + MIN_HOLD / 2).transitions == ()
    released = on_health(PLAN, held.state, CLEAR, at=T0 + MIN_HOLD)
    assert released.state.status is Status.RAMPING
    assert released.transitions[0].action == "release"
    assert "(held 1 h 00 min)" in released.transitions[0].reason


def test_the_gate_does_not_release_an_ops_hold() -> None:
    held = hold(fresh(), actor="ops@example.com", reason="investigating", at=T0)
    assert on_health(PLAN, held.state, VERDICT[Level.OK], at=T0).state.status is Status.HOLDING


def test_warn_and_unknown_change_nothing() -> None:
    for level in (Level.WARN, Level.UNKNOWN, Level.OK):
        decision = on_health(PLAN, fresh(), VERDICT[level], at=T0)
        assert decision.state == fresh()
        assert decision.transitions == ()


@pytest.mark.parametrize("status", [Status.RAMPING, Status.HOLDING, Status.COMPLETED, Status.IDLE])
def test_health_pause_from_any_sending_status(status: Status) -> None:
    decision = on_health(PLAN, fresh(status=status), VERDICT[Level.PAUSE], at=T0)
    assert decision.state.status is Status.PAUSED
    assert decision.transitions[0].actor == HEALTH_GATE


def test_a_paused_domain_is_not_paused_again_nor_held() -> None:
    paused = fresh(status=Status.PAUSED)
    assert on_health(PLAN, paused, VERDICT[Level.PAUSE], at=T0).transitions == ()
    assert on_health(PLAN, paused, VERDICT[Level.HOLD], at=T0).transitions == ()
    assert on_health(PLAN, paused, VERDICT[Level.OK], at=T0).state.status is Status.PAUSED


def test_resume_steps_back_resets_healthy_days_and_starts_a_fresh_health_window() -> None:
    paused = fresh(status=Status.PAUSED, step=2, healthy_days_at_step=1)
    decision = resume(PLAN, paused, actor="ops@example.com", reason="list cleaned", at=T0)
    assert decision.state.status is Status.RAMPING
    assert decision.state.step == 1
    assert decision.state.healthy_days_at_step == 0
    assert decision.state.health_since == T0
    assert "back 1 step to step 1" in decision.transitions[0].reason


def test_resume_at_step_zero_stays_at_zero() -> None:
    decision = resume(PLAN, fresh(status=Status.PAUSED), actor="o", reason="r", at=T0)
    assert decision.state.step == 0


def test_resume_of_a_domain_that_is_not_paused_is_refused() -> None:
    with pytest.raises(TransitionError, match="not paused; use release"):
        resume(PLAN, fresh(status=Status.HOLDING), actor="o", reason="r", at=T0)


def test_ops_pause_hold_release() -> None:
    paused = pause(fresh(), actor="ops", reason="complaint from a partner", at=T0)
    assert paused.state.status is Status.PAUSED
    with pytest.raises(TransitionError, match="already paused"):
        pause(paused.state, actor="ops", reason="again", at=T0)
    with pytest.raises(TransitionError, match="resume it first"):
        hold(paused.state, actor="ops", reason="x", at=T0)
    held = hold(fresh(), actor="ops", reason="x", at=T0)
    with pytest.raises(TransitionError, match="already holding"):
        hold(held.state, actor="ops", reason="x", at=T0)
    released = release(PLAN, held.state, actor="ops", reason="ok", at=T0)
    assert released.state.status is Status.RAMPING
    with pytest.raises(TransitionError, match="not holding"):
        release(PLAN, released.state, actor="ops", reason="ok", at=T0)


def test_set_step_moves_within_the_plan_only() -> None:
    decision = set_step(
        PLAN, fresh(healthy_days_at_step=1), 2, actor="ops", reason="known domain", at=T0
    )
    assert decision.state.step == 2
    assert decision.state.status is Status.COMPLETED
    assert decision.state.healthy_days_at_step == 0
    with pytest.raises(TransitionError, match=r"0\.\.2"):
        set_step(PLAN, fresh(), 3, actor="ops", reason="x", at=T0)
    paused = set_step(PLAN, fresh(status=Status.PAUSED), 1, actor="ops", reason="x", at=T0)
    assert paused.state.status is Status.PAUSED


def test_apply_plan_keeps_the_daily_volume_from_jumping() -> None:
    bigger = parse_plan(
        """
name: bigger
steps:
  - {per_hour: 10, per_day: 150}
  - {per_hour: 20, per_day: 300}
  - {per_hour: 40, per_day: 600}
"""
    )
    decision = apply_plan(bigger, PLAN, fresh(step=2), actor="ops", reason="switch", at=T0)
    assert decision.state.plan == "bigger"
    assert decision.state.step == 1  # 300/day is the highest not above today's 400
    assert "plan three step 2 → plan bigger step 1" in decision.transitions[0].reason


def test_quiet_days_make_a_domain_idle_then_rewarm_it() -> None:
    state = fresh(step=2)
    quiet = DayReport(sent=0, cap=400)
    actions = []
    for day in range(5):
        decision = on_day_end(PLAN, state, quiet, at=T0 + timedelta(days=day))
        actions += [t.action for t in decision.transitions]
        state = decision.state
    assert actions == ["idle", "rewarm"]
    assert state.status is Status.IDLE
    assert state.step == 0
    woke = on_day_end(PLAN, state, FULL_DAY, at=T0 + timedelta(days=6))
    assert woke.state.status is Status.RAMPING
    assert woke.state.idle_days == 0
    assert [t.action for t in woke.transitions] == ["wake"]


def test_a_transition_describes_itself_for_the_audit_log() -> None:
    (t,) = pause(fresh(step=1), actor="ops@example.com", reason="spam trap hit", at=T0).transitions
    assert t.describe() == "pause by ops@example.com: ramping→paused, step 1: spam trap hit"


def day(n: int, **changes: object) -> DayReport:
    """A full sending day ``n`` days after T0's date (its midnight as the start)."""
    start = datetime.combine(T0.date() + timedelta(days=n), datetime.min.time(), tzinfo=UTC)
    return DayReport(**{"sent": 100, "cap": 100, "start": start, **changes})  # type: ignore[arg-type]


def end_of(report: DayReport) -> datetime:
    assert report.start is not None
    return report.start + timedelta(days=1)


def test_a_held_day_breaks_the_streak_and_the_advance_names_the_days_that_counted() -> None:
    state = on_day_end(PLAN, fresh(), day(1), at=end_of(day(1))).state
    assert state.healthy_days_at_step == 1
    # Day 2: held at 10:00, released at 14:00. It does not count, and the streak starts again.
    held = on_health(PLAN, state, VERDICT[Level.HOLD], at=day(2).start + timedelta(hours=10))  # type: ignore[operator]
    assert held.state.healthy_days_at_step == 0
    released = on_health(PLAN, held.state, CLEAR, at=day(2).start + timedelta(hours=14))  # type: ignore[operator]
    assert released.state.status is Status.RAMPING
    state = on_day_end(PLAN, released.state, day(2), at=end_of(day(2))).state
    assert (state.step, state.healthy_days_at_step) == (0, 0)
    state = on_day_end(PLAN, state, day(3), at=end_of(day(3))).state
    assert (state.step, state.healthy_days_at_step) == (0, 1)
    advanced = on_day_end(PLAN, state, day(4), at=end_of(day(4)))
    assert advanced.state.step == 1
    (advance,) = advanced.transitions
    assert "2 consecutive healthy sending days at step 0: 2026-12-04, 2026-12-05" in advance.reason


def test_a_day_ending_above_a_hold_line_is_not_healthy() -> None:
    state = on_day_end(PLAN, fresh(), day(1), at=end_of(day(1))).state
    bad = day(2, unhealthy="failure rate 1.2 % over 900 reports ≥ hold 1 %")
    state = on_day_end(PLAN, state, bad, at=end_of(bad)).state
    assert (state.step, state.healthy_days_at_step) == (0, 0)


def test_a_quiet_day_neither_counts_nor_breaks_the_streak() -> None:
    state = on_day_end(PLAN, fresh(), day(1), at=end_of(day(1))).state
    quiet = day(2, sent=0)
    state = on_day_end(PLAN, state, quiet, at=end_of(quiet)).state
    assert state.healthy_days_at_step == 1
    advanced = on_day_end(PLAN, state, day(3), at=end_of(day(3)))
    assert advanced.state.step == 1


def test_an_ops_hold_or_pause_also_breaks_the_streak() -> None:
    state = on_day_end(PLAN, fresh(), day(1), at=end_of(day(1))).state
    held = hold(state, actor="ops@example.com", reason="checking a list", at=T0)
    assert held.state.healthy_days_at_step == 0
    paused = pause(state, actor="ops@example.com", reason="complaints", at=T0)
    assert paused.state.healthy_days_at_step == 0
