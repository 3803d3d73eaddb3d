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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from warmup.control.health import Level, Verdict
from warmup.control.state import (
    HEALTH_GATE,
    SYSTEM,
    TROUBLED_STATUSES,
    DomainState,
    ProviderHold,
    Status,
    Transition,
)
from warmup.plans.model import Plan, ProviderGroup


@dataclass(frozen=True)
class Decision:
    state: DomainState
    transitions: tuple[Transition, ...] = ()

    def then(self, other: Decision) -> Decision:
        return Decision(other.state, self.transitions + other.transitions)


@dataclass(frozen=True)
class DayReport:
    """What one day (in the plan's timezone) did: sent versus its daily cap.

    ``start`` is the day's midnight (a hold or pause since then touched the day); ``unhealthy``
    says why the day's end was not healthy (a rate at or above a hold line), if it was not.
    """

    sent: int
    cap: int
    start: datetime | None = None
    unhealthy: str | None = None

    @property
    def day(self) -> date | None:
        return self.start.date() if self.start is not None else None


def move(
    state: DomainState, *, at: datetime, actor: str, action: str, reason: str, **changes: Any
) -> Decision:
    new = replace(state, reason=reason, since=at, **changes)
    if (new.status in TROUBLED_STATUSES) != (state.status in TROUBLED_STATUSES):
        # A hold or a pause begins or ends (by the gates or by ops): the day it touches is not
        # healthy, and a beginning ends the healthy streak.
        new = replace(new, troubled_at=at)
        if new.status in TROUBLED_STATUSES:
            new = replace(new, healthy_days_at_step=0)
    if new.healthy_days_at_step == 0:
        new = replace(new, streak_days=())
    return Decision(
        new, (_transition(state, new, at=at, actor=actor, action=action, reason=reason),)
    )


def _transition(
    old: DomainState, new: DomainState, *, at: datetime, actor: str, action: str, reason: str
) -> Transition:
    return Transition(
        at=at,
        domain=old.domain,
        actor=actor,
        action=action,
        from_status=old.status,
        to_status=new.status,
        from_step=old.step,
        to_step=new.step,
        reason=reason,
    )


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
    if state.status is Status.HOLDING and state.held_by == HEALTH_GATE and verdict.clear:
        held_for = at - (state.troubled_at or state.since or at)
        if held_for < timedelta(minutes=plan.gates.min_hold_minutes):
            return Decision(state)  # a hold lasts its minimum, or a rate on the line flaps
        return move(
            state,
            at=at,
            actor=HEALTH_GATE,
            action="release",
            reason=f"{verdict.reason} (held {duration_words(held_for)})",
            status=running_status(plan, state.step),
            held_by=None,
        )
    return Decision(state)


def on_readings(
    plan: Plan,
    state: DomainState,
    verdict: Verdict,
    by_group: Mapping[ProviderGroup, Verdict],
    *,
    at: datetime,
) -> Decision:
    """The domain's reading, then each provider group's own. Provider gates are for trouble
    only one group has: while the domain's own gates are at hold or beyond, they decide for
    everyone, and no group is stopped on top (with one group carrying most of the mail, its
    hold would otherwise stop all sending before the domain could reach its pause line)."""
    decision = on_health(plan, state, verdict, at=at)
    domain_breached = verdict.level >= Level.HOLD
    for group, own in sorted(by_group.items()):
        decision = decision.then(
            on_provider_health(
                plan, decision.state, group, own, at=at, may_stop=not domain_breached
            )
        )
    return decision


def on_provider_health(
    plan: Plan,
    state: DomainState,
    group: ProviderGroup,
    verdict: Verdict,
    *,
    at: datetime,
    may_stop: bool = True,
) -> Decision:
    """What a provider group's own reading does: stop its traffic (hold, or pause until ops
    release it), lift its own hold, or nothing. The other groups keep sending."""
    if state.status is Status.PAUSED:
        return Decision(state)  # nothing is sent anyway; ops' resume starts afresh
    current = state.provider_hold(group)
    if not may_stop:
        verdict = replace(verdict, level=min(verdict.level, Level.WARN))
    if verdict.level is Level.PAUSE and (current is None or not current.paused):
        return provider_move(state, group, "pause", verdict.reason, at, paused=True)
    if verdict.level is Level.HOLD and current is None:
        return provider_move(state, group, "hold", verdict.reason, at, paused=False)
    # A held group sends nothing, so only late reports can clear its rates. It is released
    # when they are clear (after its minimum hold), or after a whole health window, when the
    # failures that held it have aged out, to try again.
    if current is not None and not current.paused:
        gates = plan.gates_for(group)
        held_for = at - current.since
        aged_out = held_for >= timedelta(hours=gates.window_hours)
        if aged_out or (verdict.clear and held_for >= timedelta(minutes=gates.min_hold_minutes)):
            why = (
                verdict.reason
                if verdict.clear
                else f"its failures have left the {gates.window_hours} h window"
            )
            return provider_move(
                state, group, "release", f"{why} (held {duration_words(held_for)})", at
            )
    return Decision(state)


def provider_move(
    state: DomainState,
    group: ProviderGroup,
    action: str,
    reason: str,
    at: datetime,
    *,
    actor: str = HEALTH_GATE,
    paused: bool | None = None,
) -> Decision:
    """Start (``paused`` given) or end a provider group's hold. Either touches the day, so the
    domain's healthy streak starts again, as for a hold of the whole domain."""
    others = tuple(hold for hold in state.provider_holds if hold.group is not group)
    holds = others if paused is None else (*others, ProviderHold(group, paused, reason, at))
    changed = replace(state, provider_holds=holds, troubled_at=at)
    if paused is not None:
        changed = replace(changed, healthy_days_at_step=0, streak_days=())
    transition = _transition(
        state,
        changed,
        at=at,
        actor=actor,
        action=f"provider-{action}",
        reason=f"{group.value}: {reason}",
    )
    return Decision(changed, (transition,))


def duration_words(span: timedelta) -> str:
    """``1 min``, ``4 h 05 min``: how people read a wait (never ``0.017 h``)."""
    minutes = int(span.total_seconds() // 60)
    if minutes == 0:
        return "under a minute"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


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
    if _troubled(counted, day):
        # Only consecutive healthy days prove the step: this one starts the count again.
        return Decision(
            replace(counted, healthy_days_at_step=0, streak_days=()), decision.transitions
        )
    healthy = counted.healthy_days_at_step + 1
    streak = (*counted.streak_days, day.day) if day.day is not None else counted.streak_days
    if healthy < plan.advance.healthy_days:
        return Decision(
            replace(counted, healthy_days_at_step=healthy, streak_days=streak),
            decision.transitions,
        )
    step = counted.step + 1
    target = plan.step(step)
    named = f": {', '.join(d.isoformat() for d in streak)}" if streak else ""
    reason = (
        f"{healthy} consecutive healthy sending day{'s' if healthy > 1 else ''} at step "
        f"{counted.step}{named} (last: {day.sent:,} of {day.cap:,}); "
        f"now {target.per_hour:,}/hour, {target.per_day:,}/day"
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


def _troubled(state: DomainState, day: DayReport) -> bool:
    """A hold or pause, of the domain or of a provider group, touched the day (began, lasted
    into its end or ended in it), or a rate ended it at or above a hold line."""
    if day.unhealthy is not None or state.status in TROUBLED_STATUSES or state.provider_holds:
        return True
    return (
        day.start is not None and state.troubled_at is not None and state.troubled_at >= day.start
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
