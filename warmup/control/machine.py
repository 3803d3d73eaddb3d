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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from warmup.control.health import Level, OutcomeCounts, Verdict, judge
from warmup.control.state import (
    DOMAIN_GATE,
    HEALTH_GATE,
    SYSTEM,
    TROUBLED_STATUSES,
    DomainState,
    GateMark,
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
#
# One cause, one decision. Each provider group's reports are judged by its own gates; the
# domain's gates judge the groups that send normally. A group whose own gates reach hold is
# stopped (all but its probe) only while the rest of the domain has enough reports to judge
# and is healthy: the trouble is that group's. When the rest is failing too, or there is no
# rest to compare with (one group carries the mail), the trouble is the domain's, and the
# domain's gates judge all of it. A held group's probe is judged by its gate alone.
#
# Release on evidence. A hold is lifted only on reports received since it began (its probe's,
# for a group), when they show every rate below its release line beyond reasonable doubt,
# after the plan's minimum hold, and at most once a day. Days without reports release nothing.

Reports = Mapping[datetime, Mapping[ProviderGroup, OutcomeCounts]]


def _window_start(plan: Plan, state: DomainState, gate: str, at: datetime) -> datetime:
    """Where a gate's evidence starts: the window, after the last resume, and after the start
    of the gate's last hold once that hold was released (it was acted on)."""
    start = at - timedelta(hours=plan.gates.window_hours)
    judged = state.gate_mark(gate).judged_since
    for later in (state.health_since, judged):
        if later is not None and later > start:
            start = later
    return start


def _hold_start(plan: Plan, state: DomainState, gate: str, at: datetime) -> datetime | None:
    """When the gate's current hold began (clipped to the window), if it holds."""
    if gate == DOMAIN_GATE:
        if state.status is not Status.HOLDING or state.held_by != HEALTH_GATE:
            return None
        began = state.gate_mark(gate).held_at or state.since or at
    else:
        hold = state.provider_hold(ProviderGroup(gate))
        if hold is None or hold.paused:
            return None
        began = hold.since
    return max(began, at - timedelta(hours=plan.gates.window_hours))


def report_sinces(plan: Plan, state: DomainState, at: datetime) -> frozenset[datetime]:
    """The moments from which ``on_readings`` needs each group's report counts at ``at``."""
    gates = [DOMAIN_GATE, *(g.value for g in ProviderGroup)]
    sinces = {_window_start(plan, state, gate, at) for gate in gates}
    sinces |= {s for gate in gates if (s := _hold_start(plan, state, gate, at)) is not None}
    return frozenset(sinces)


def _counts(reports: Reports, since: datetime, groups: Iterable[ProviderGroup]) -> OutcomeCounts:
    found = reports.get(since, {})
    return sum((found.get(group, OutcomeCounts()) for group in groups), OutcomeCounts())


def on_readings(plan: Plan, state: DomainState, reports: Reports, *, at: datetime) -> Decision:
    """What one reading of the reports does: each group's gates, then the domain's.

    ``reports`` holds each provider group's counts from each moment ``report_sinces`` named.
    """
    if state.status is Status.PAUSED:
        return Decision(state)  # nothing is sent; ops' resume starts afresh
    groups = sorted(
        {g for found in reports.values() for g in found} | state.held_providers,
        key=lambda g: g.value,
    )
    verdicts = {
        g: judge(_counts(reports, _window_start(plan, state, g.value, at), [g]), plan.gates_for(g))
        for g in groups
    }
    stopped = state.held_providers
    # Groups whose own gates would stop them, and the rest that sends normally.
    troubled = [g for g in groups if g not in stopped and verdicts[g].level >= Level.HOLD]
    rest = [g for g in groups if g not in stopped and g not in troubled]
    domain_since = _window_start(plan, state, DOMAIN_GATE, at)
    sending = _counts(reports, domain_since, [g for g in groups if g not in stopped]).total

    def innocent(part: list[ProviderGroup]) -> bool:
        """The part of the domain shows no trouble of its own (its gates are below hold), and
        it is enough mail to compare with: the gates' minimum sample, or a quarter of the
        domain's reports. One group carrying all the mail has nothing to compare with."""
        counts = _counts(reports, domain_since, part)
        big_enough = counts.total >= plan.gates.min_sample or 0 < counts.total * 4 >= sending
        return big_enough and judge(counts, plan.gates).level < Level.HOLD

    if not innocent(rest) and len(rest) > 1:
        # The rest fails: is it one group's doing, too small yet for its own gates? Without
        # the group with the most failures, does the rest show trouble of its own?
        worst = max(rest, key=lambda g: (_counts(reports, domain_since, [g]).failures, g.value))
        without = [g for g in rest if g is not worst]
        # Judged on its own interval with a quarter of the usual sample: the rest's health is
        # the other half of the evidence.
        gates = plan.gates_for(worst)
        own = judge(
            _counts(reports, _window_start(plan, state, worst.value, at), [worst]),
            gates.model_copy(update={"min_sample": max(1, gates.min_sample // 4)}),
        )
        if innocent(without) and own.level >= Level.HOLD:
            troubled, rest = [*troubled, worst], without
            verdicts[worst] = own
    own_trouble = innocent(rest)
    judged = rest if own_trouble or not troubled else rest + troubled
    parts = {g.value: _counts(reports, domain_since, [g]) for g in judged}
    verdict = judge(_counts(reports, domain_since, judged), plan.gates, parts)
    hold_start = _hold_start(plan, state, DOMAIN_GATE, at)
    fresh = judge(_counts(reports, hold_start, judged), plan.gates) if hold_start else None
    decision = on_health(plan, state, verdict, at=at, fresh=fresh)
    for group in groups:
        began = _hold_start(plan, decision.state, group.value, at)
        decision = decision.then(
            on_provider_health(
                plan,
                decision.state,
                group,
                verdicts[group],
                at=at,
                may_stop=own_trouble,
                fresh=judge(_counts(reports, began, [group]), plan.gates_for(group))
                if began is not None
                else None,
            )
        )
    return decision


def released_today(plan: Plan, mark: GateMark, at: datetime) -> bool:
    if mark.released_at is None:
        return False
    return mark.released_at.astimezone(plan.zone).date() == at.astimezone(plan.zone).date()


def on_health(
    plan: Plan,
    state: DomainState,
    verdict: Verdict,
    *,
    at: datetime,
    fresh: Verdict | None = None,
) -> Decision:
    """What a reading of the domain's gates does: nothing, hold, pause, or lift the gate's own
    hold. ``fresh`` is the verdict on the reports received since the hold began (by default,
    ``verdict`` itself): only it can release."""
    mark = state.gate_mark(DOMAIN_GATE)
    stopped = stop_domain(state, verdict.level, verdict.reason, at=at, actor=HEALTH_GATE, gate=mark)
    if stopped is not None:
        return stopped
    evidence = fresh if fresh is not None else verdict
    if state.status is Status.HOLDING and state.held_by == HEALTH_GATE and evidence.clear:
        began = mark.held_at or state.troubled_at or state.since or at
        held_for = at - began
        if held_for < timedelta(minutes=plan.gates.min_hold_minutes):
            return Decision(state)  # a hold lasts its minimum, or a rate on the line flaps
        if released_today(plan, mark, at):
            return Decision(state)  # one release a day: a second waits for tomorrow
        return move(
            state,
            at=at,
            actor=HEALTH_GATE,
            action="release",
            reason=f"since the hold: {evidence.reason} (held {duration_words(held_for)})",
            status=running_status(plan, state.step),
            held_by=None,
            gate_marks=state.with_mark(replace(mark, released_at=at, judged_since=began)),
        )
    return Decision(state)


def stop_domain(
    state: DomainState, level: Level, reason: str, *, at: datetime, actor: str, gate: GateMark
) -> Decision | None:
    """A gate's pause or hold of the whole domain (``actor`` holds it, ``gate`` marks when),
    or None when ``level`` asks for neither or the domain is stopped already."""
    if level is Level.PAUSE and state.status is not Status.PAUSED:
        return move(
            state,
            at=at,
            actor=actor,
            action="pause",
            reason=reason,
            status=Status.PAUSED,
            held_by=None,
        )
    if level is Level.HOLD and state.status in {Status.RAMPING, Status.COMPLETED, Status.IDLE}:
        return move(
            state,
            at=at,
            actor=actor,
            action="hold",
            reason=reason,
            status=Status.HOLDING,
            held_by=actor,
            gate_marks=state.with_mark(replace(gate, held_at=at)),
        )
    return None


def on_provider_health(
    plan: Plan,
    state: DomainState,
    group: ProviderGroup,
    verdict: Verdict,
    *,
    at: datetime,
    may_stop: bool = True,
    fresh: Verdict | None = None,
) -> Decision:
    """What a provider group's own reading does: stop its traffic but its probe (hold), stop
    it all (pause, until ops release it), lift its own hold, or nothing. The other groups keep
    sending. ``fresh`` is the verdict on its reports since the hold began (its probe's; by
    default ``verdict`` itself): only it can release, never the mere passing of time."""
    if state.status is Status.PAUSED:
        return Decision(state)  # nothing is sent anyway; ops' resume starts afresh
    current = state.provider_hold(group)
    if not may_stop:
        verdict = replace(verdict, level=min(verdict.level, Level.WARN))
    if verdict.level is Level.PAUSE and (current is None or not current.paused):
        return provider_move(state, group, "pause", verdict.reason, at, paused=True)
    if verdict.level is Level.HOLD and current is None:
        return provider_move(state, group, "hold", verdict.reason, at, paused=False)
    evidence = fresh if fresh is not None else verdict
    if current is not None and not current.paused and current.by == HEALTH_GATE and evidence.clear:
        gates = plan.gates_for(group)
        held_for = at - current.since
        if held_for < timedelta(minutes=gates.min_hold_minutes):
            return Decision(state)
        if released_today(plan, state.gate_mark(group.value), at):
            return Decision(state)
        reason = f"since the hold: {evidence.reason} (held {duration_words(held_for)})"
        return provider_move(state, group, "release", reason, at)
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
    gate: str | None = None,
) -> Decision:
    """Start (``paused`` given) or end a provider group's hold. Either touches the day, so the
    domain's healthy streak starts again, as for a hold of the whole domain. A release by the
    gates marks the group's gate (see GateMark); one by ops starts its evidence afresh too.
    ``gate``: the mark to keep, when it is not the group's own (Postmaster Tools' gate)."""
    current = state.provider_hold(group)
    others = tuple(hold for hold in state.provider_holds if hold.group is not group)
    holds = (
        others if paused is None else (*others, ProviderHold(group, paused, reason, at, by=actor))
    )
    mark = state.gate_mark(gate or group.value)
    if paused is not None and current is None:
        mark = replace(mark, held_at=at)
    elif paused is None and current is not None:
        mark = replace(mark, released_at=at, judged_since=current.since)
    changed = replace(state, provider_holds=holds, troubled_at=at, gate_marks=state.with_mark(mark))
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
