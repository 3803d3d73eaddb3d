"""Ops' actions on a sending domain, one table for the API and the CLI.

Each action asks the pure controller (:mod:`warmup.control.ops`) for a decision on the
domain's current state; :meth:`DomainStore.transition` stores it with its audit entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from warmup.control import ops
from warmup.control.machine import Decision
from warmup.domains.record import DomainRecord
from warmup.domains.store import DomainStore
from warmup.plans.model import Plan, ProviderGroup


@dataclass(frozen=True)
class OpsRequest:
    actor: str
    reason: str
    at: datetime
    step: int = 0  # set-step only
    plan: Plan | None = None  # apply-plan only, with the YAML it was parsed from
    plan_yaml: str | None = None
    provider: ProviderGroup | None = None  # release-provider only


def _set_step(record: DomainRecord, request: OpsRequest) -> Decision:
    return ops.set_step(
        record.plan,
        record.state,
        request.step,
        actor=request.actor,
        reason=request.reason,
        at=request.at,
    )


def _release_provider(record: DomainRecord, request: OpsRequest) -> Decision:
    if request.provider is None:
        raise ValueError("release-provider needs a provider group")
    return ops.release_provider(
        record.state, request.provider, actor=request.actor, reason=request.reason, at=request.at
    )


def _apply_plan(record: DomainRecord, request: OpsRequest) -> Decision:
    if request.plan is None:
        raise ValueError("apply-plan needs a plan")
    return ops.apply_plan(
        request.plan,
        record.plan,
        record.state,
        actor=request.actor,
        reason=request.reason,
        at=request.at,
    )


Action = Callable[[DomainRecord, OpsRequest], Decision]
ACTIONS: dict[str, Action] = {
    "hold": lambda r, q: ops.hold(r.state, actor=q.actor, reason=q.reason, at=q.at),
    "release": lambda r, q: ops.release(r.plan, r.state, actor=q.actor, reason=q.reason, at=q.at),
    "pause": lambda r, q: ops.pause(r.state, actor=q.actor, reason=q.reason, at=q.at),
    "resume": lambda r, q: ops.resume(r.plan, r.state, actor=q.actor, reason=q.reason, at=q.at),
    "release-provider": _release_provider,
    "set-step": _set_step,
    "apply-plan": _apply_plan,
}


def act(store: DomainStore, name: str, action: str, request: OpsRequest) -> Decision:
    """Apply one of :data:`ACTIONS` to the domain and store the decision."""
    decide = ACTIONS[action]
    return store.transition(
        name, lambda record: decide(record, request), plan_yaml=request.plan_yaml
    )
