"""The warm-up state machine: day boundaries and health verdicts (ops actions: :mod:`.ops`).

Every function is pure: it takes the plan, the state and the time, and returns a
:class:`Decision` with the new state and the transitions to write to the audit log.

    ramping ──(N healthy sending days)──▶ next step … last step ──▶ completed
    ramping/completed/idle ──(gate: hold)──▶ holding ──(gate: healthy again)──▶ back
    any sending status ──(gate: pause | ops pause)──▶ paused ──(ops resume: step back)──▶ ramping
    no sending day for idle_after_days ──▶ idle;  for after_idle_days ──▶ re-warm from to_step
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from warmup.control.health import Level, Verdict
from warmup.control.state import HEALTH_GATE, SYSTEM, DomainState, Status, Transition
from warmup.plans.model import Plan


@dataclass(frozen=True)
class Decision:
    state: DomainState
    transitions: tuple[Transition, ...] = ()

    def then(self, other: Decision) -> Decision:
        return Decision(other.state, self.transitions + other.transitions)


@dataclass(frozen=True)
class DayReport:
    """What one sending day (in the plan's timezone) did: sent versus its daily cap."""

    sent: int
    cap: int


def move(
    state: DomainState, *, at: datetime, actor: str, action: str, reason: str, **changes: Any
) -> Decision:
    new = replace(state, reason=reason, since=at, **changes)
    transition = Transition(
        at=at,
        domain=state.domain,
        actor=actor,
        action=action,
        from_status=state.status,
        to_status=new.status,
        from_step=state.step,
        to_step=new.step,
        reason=reason,
    )
    return Decision(new, (transition,))


def steps_word(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def running_status(plan: Plan, step: int) -> Status:
    return Status.COMPLETED if step >= plan.last_step else Status.RAMPING


def status_at_step(plan: Plan, state: DomainState, step: int) -> Status:
    """After a step change: ramping or completed as the step says; held, paused, idle stay so."""
    if state.status in {Status.RAMPING, Status.COMPLETED}:
        return running_status(plan, step)
    return state.status


def new_domain(domain: str, plan: Plan, *, at: datetime, actor: str) -> Decision:
    state = DomainState(domain=domain, plan=plan.name)
    return move(
        state, at=at, actor=actor, action="create", reason=f"warming up on plan {plan.name}"
    )


# --- health -------------------------------------------------------------------------------


def on_health(plan: Plan, state: DomainState, verdict: Verdict, *, at: datetime) -> Decision:
    """What a health reading does: nothing, hold, pause, or lift the gate's own hold."""
    if verdict.level is Level.PAUSE and state.status is not Status.PAUSED:
        return move(
            state,
            at=at,
            actor=HEALTH_GATE,
            action="pause",
            reason=verdict.reason,
            status=Status.PAUSED,
            held_by=None,
        )
    if verdict.level is Level.HOLD and state.status in {
        Status.RAMPING,
        Status.COMPLETED,
        Status.IDLE,
    }:
        return move(
            state,
            at=at,
            actor=HEALTH_GATE,
            action="hold",
            reason=verdict.reason,
            status=Status.HOLDING,
            held_by=HEALTH_GATE,
        )
    healthy = verdict.level in {Level.OK, Level.WARN}
    if healthy and state.status is Status.HOLDING and state.held_by == HEALTH_GATE:
        return move(
            state,
            at=at,
            actor=HEALTH_GATE,
            action="release",
            reason=verdict.reason,
            status=running_status(plan, state.step),
            held_by=None,
        )
    return Decision(state)


# --- day boundary -------------------------------------------------------------------------


def is_sending_day(plan: Plan, day: DayReport) -> bool:
    return day.cap > 0 and day.sent >= math.ceil(plan.advance.min_fraction_of_cap * day.cap)


def on_day_end(plan: Plan, state: DomainState, day: DayReport, *, at: datetime) -> Decision:
    """Count the day; advance after enough healthy sending days; mark idle; re-warm."""
    if is_sending_day(plan, day):
        return _sending_day(plan, state, day, at)
    return _quiet_day(plan, state, day, at)


def _sending_day(plan: Plan, state: DomainState, day: DayReport, at: datetime) -> Decision:
    counted = replace(state, sending_days=state.sending_days + 1, idle_days=0)
    decision = Decision(counted)
    if counted.status is Status.IDLE:
        decision = move(
            counted,
            at=at,
            actor=SYSTEM,
            action="wake",
            reason=f"sent {day.sent:,} of {day.cap:,}",
            status=running_status(plan, counted.step),
        )
        counted = decision.state
    if counted.status is not Status.RAMPING or counted.step >= plan.last_step:
        return decision  # nothing to advance to (a one-step plan stays at step 0)
    healthy = counted.healthy_days_at_step + 1
    if healthy < plan.advance.healthy_days:
        return Decision(replace(counted, healthy_days_at_step=healthy), decision.transitions)
    step = counted.step + 1
    target = plan.step(step)
    reason = (
        f"{healthy} healthy sending day{'s' if healthy > 1 else ''} at step {counted.step} "
        f"(last: {day.sent:,} of {day.cap:,}); now {target.per_hour:,}/hour, {target.per_day:,}/day"
    )
    return decision.then(
        move(
            counted,
            at=at,
            actor=SYSTEM,
            action="advance",
            reason=reason,
            step=step,
            healthy_days_at_step=0,
            status=running_status(plan, step),
        )
    )


def _quiet_day(plan: Plan, state: DomainState, day: DayReport, at: datetime) -> Decision:
    idle = state.idle_days + 1
    counted = replace(state, idle_days=idle)
    decision = Decision(counted)
    rewarm = plan.rewarm
    if idle == rewarm.idle_after_days and counted.status in {Status.RAMPING, Status.COMPLETED}:
        decision = move(
            counted,
            at=at,
            actor=SYSTEM,
            action="idle",
            reason=f"no sending day for {idle} days",
            status=Status.IDLE,
        )
        counted = decision.state
    if idle == rewarm.after_idle_days and counted.step > rewarm.to_step:
        decision = decision.then(
            move(
                counted,
                at=at,
                actor=SYSTEM,
                action="rewarm",
                reason=(
                    f"no sending day for {idle} days: reputation fades, "
                    f"warming again from step {rewarm.to_step}"
                ),
                step=rewarm.to_step,
                healthy_days_at_step=0,
            )
        )
    return decision
