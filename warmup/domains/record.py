"""A sending domain as the rest of the service sees it, and its state's columns."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from warmup.control.caps import AcsQuota, Caps, caps
from warmup.control.state import DomainState, Status
from warmup.plans.model import Plan
from warmup.store.models import SendingDomain


@dataclass(frozen=True)
class DomainRecord:
    id: int
    state: DomainState
    plan: Plan
    quota: AcsQuota
    senders: tuple[str, ...]
    version: int
    day_closed: str | None = None

    @cached_property
    def caps(self) -> Caps:
        """The caps at the domain's step, worked out once per record (the send path asks for
        them on every permit)."""
        return caps(self.plan, self.state.step, self.quota)


def state_of(row: SendingDomain) -> DomainState:
    return DomainState(
        domain=row.name,
        plan=row.plan_name,
        step=row.step,
        status=Status(row.status),
        reason=row.reason,
        since=row.since,
        healthy_days_at_step=row.healthy_days_at_step,
        sending_days=row.sending_days,
        idle_days=row.idle_days,
        held_by=row.held_by,
        health_since=row.health_since,
    )


def state_columns(state: DomainState) -> dict[str, object]:
    return {
        "plan_name": state.plan,
        "step": state.step,
        "status": state.status.value,
        "reason": state.reason,
        "since": state.since,
        "healthy_days_at_step": state.healthy_days_at_step,
        "sending_days": state.sending_days,
        "idle_days": state.idle_days,
        "held_by": state.held_by,
        "health_since": state.health_since,
    }
