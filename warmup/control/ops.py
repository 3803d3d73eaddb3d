"""Ops' actions on a domain's warm-up: pause, hold, release, resume, set-step, apply-plan.

Pure like the rest of :mod:`warmup.control`: each takes the plan, the state and the time and
returns a :class:`~warmup.control.machine.Decision`; refusals raise :class:`TransitionError`.
"""

from __future__ import annotations

from datetime import datetime

from warmup.control.machine import (
    Decision,
    move,
    provider_move,
    running_status,
    status_at_step,
    steps_word,
)
from warmup.control.state import DomainState, Status
from warmup.errors import TransitionError
from warmup.plans.model import Plan, ProviderGroup


def pause(state: DomainState, *, actor: str, reason: str, at: datetime) -> Decision:
    if state.status is Status.PAUSED:
        raise TransitionError(f"{state.domain} is already paused ({state.reason})")
    return move(
        state, at=at, actor=actor, action="pause", reason=reason, status=Status.PAUSED, held_by=None
    )


def hold(state: DomainState, *, actor: str, reason: str, at: datetime) -> Decision:
    if state.status is Status.PAUSED:
        raise TransitionError(f"{state.domain} is paused; resume it first")
    if state.status is Status.HOLDING:
        raise TransitionError(f"{state.domain} is already holding ({state.reason})")
    return move(
        state,
        at=at,
        actor=actor,
        action="hold",
        reason=reason,
        status=Status.HOLDING,
        held_by=actor,
    )


def release(plan: Plan, state: DomainState, *, actor: str, reason: str, at: datetime) -> Decision:
    if state.status is not Status.HOLDING:
        raise TransitionError(f"{state.domain} is {state.status.value}, not holding")
    return move(
        state,
        at=at,
        actor=actor,
        action="release",
        reason=reason,
        status=running_status(plan, state.step),
        held_by=None,
    )


def release_provider(
    state: DomainState, group: ProviderGroup, *, actor: str, reason: str, at: datetime
) -> Decision:
    """Let a provider group's traffic go again, whether its gates held or paused it."""
    if state.provider_hold(group) is None:
        held = ", ".join(h.group.value for h in state.provider_holds) or "none"
        raise TransitionError(f"{state.domain}: {group.value} is not held (held: {held})")
    return provider_move(state, group, "release", reason, at, actor=actor)


def resume(plan: Plan, state: DomainState, *, actor: str, reason: str, at: datetime) -> Decision:
    """Resume a paused domain ``plan.resume.step_back`` steps lower, its healthy days reset."""
    if state.status is not Status.PAUSED:
        hint = "; use release" if state.status is Status.HOLDING else ""
        raise TransitionError(f"{state.domain} is {state.status.value}, not paused{hint}")
    step = max(0, state.step - plan.resume.step_back)
    return move(
        state,
        at=at,
        actor=actor,
        action="resume",
        reason=f"{reason} (back {steps_word(state.step - step)} to step {step})",
        status=running_status(plan, step),
        step=step,
        healthy_days_at_step=0,
        held_by=None,
        health_since=at,
    )


def set_step(
    plan: Plan, state: DomainState, step: int, *, actor: str, reason: str, at: datetime
) -> Decision:
    if not 0 <= step <= plan.last_step:
        raise TransitionError(f"step {step} is not in plan {plan.name} (0..{plan.last_step})")
    status = status_at_step(plan, state, step)
    return move(
        state,
        at=at,
        actor=actor,
        action="set-step",
        reason=reason,
        step=step,
        status=status,
        healthy_days_at_step=0,
    )


def apply_plan(
    new_plan: Plan, old_plan: Plan, state: DomainState, *, actor: str, reason: str, at: datetime
) -> Decision:
    """Switch plans at the highest new step whose daily cap does not exceed today's."""
    current = old_plan.step(state.step).per_day
    fitting = [i for i, step in enumerate(new_plan.steps) if step.per_day <= current]
    step = fitting[-1] if fitting else 0
    status = status_at_step(new_plan, state, step)
    return move(
        state,
        at=at,
        actor=actor,
        action="apply-plan",
        reason=(
            f"{reason} (plan {old_plan.name} step {state.step} → plan {new_plan.name} step {step})"
        ),
        plan=new_plan.name,
        step=step,
        status=status,
        healthy_days_at_step=0,
    )
