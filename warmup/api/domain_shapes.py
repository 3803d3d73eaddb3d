"""The shapes ``/api/domains`` and ``/api/plans`` answer and accept."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from warmup.feedback.overview import DomainOverview
from warmup.plans.model import ACS_DEFAULT_PER_HOUR, ACS_DEFAULT_PER_MINUTE

Why = Annotated[str, Field(min_length=1, max_length=2000)]
PlanYaml = Annotated[str, Field(min_length=1, max_length=64 * 1024)]


class Caps(BaseModel):
    per_minute: int | None
    per_hour: int
    per_day: int


class Health(BaseModel):
    level: str  # unknown, ok, warn, hold, pause
    reason: str
    reports: int
    failure_rate: float
    hard_bounce_rate: float
    complaint_rate: float
    hold_line: float  # the plan's failure-rate thresholds, for charts
    pause_line: float
    window_hours: int


class ProviderHoldOut(BaseModel):
    provider: str  # gmail, microsoft, yahoo, other
    paused: bool  # paused: until ops release it; held: until its rates are healthy again
    reason: str
    since: datetime


class DomainOut(BaseModel):
    name: str
    plan: str
    step: int
    last_step: int
    status: str
    reason: str
    since: datetime | None
    held_by: str | None
    # Provider groups whose own gates stopped their traffic; the others keep sending.
    provider_holds: list[ProviderHoldOut]
    senders: list[str]
    caps: Caps
    cap_today: int
    sent_today: int
    left_today: int
    in_flight: int
    acs_quota_per_minute: int
    acs_quota_per_hour: int
    health: Health


class DayOut(BaseModel):
    day: date
    planned: int
    sent: int
    reports: int
    failure_rate: float


class DomainDetail(DomainOut):
    history: list[DayOut]


class ChangeOut(BaseModel):
    changes: list[str]
    domain: DomainOut


class Reason(BaseModel):
    reason: Why


class SetStep(BaseModel):
    step: Annotated[int, Field(ge=0, le=1000)]
    reason: Why


class ApplyPlan(BaseModel):
    plan_yaml: PlanYaml
    reason: Why


Address = Annotated[str, Field(min_length=3, max_length=320)]
PerMinute = Annotated[int, Field(ge=1, le=10_000_000)]
PerHour = Annotated[int, Field(ge=1, le=100_000_000)]


class DomainIn(BaseModel):
    name: Annotated[str, Field(min_length=3, max_length=253)]
    plan_yaml: PlanYaml
    senders: Annotated[list[Address], Field(max_length=100)] = []
    acs_quota_per_minute: PerMinute = ACS_DEFAULT_PER_MINUTE
    acs_quota_per_hour: PerHour = ACS_DEFAULT_PER_HOUR


class QuotaIn(BaseModel):
    per_minute: PerMinute
    per_hour: PerHour
    reason: Why = "quota raised by Microsoft"


class SenderIn(BaseModel):
    address: Address


class PlanText(BaseModel):
    plan_yaml: PlanYaml


class PlanCheck(BaseModel):
    valid: bool
    name: str | None
    steps: int
    problems: list[str]


def domain_out(view: DomainOverview) -> DomainOut:
    record, state, verdict = view.record, view.record.state, view.verdict
    step = record.plan.step(state.step)
    gates = record.plan.gates
    counts = verdict.counts
    return DomainOut(
        name=state.domain,
        plan=record.plan.name,
        step=state.step,
        last_step=record.plan.last_step,
        status=state.status.value,
        reason=state.reason,
        since=state.since,
        held_by=state.held_by,
        provider_holds=[
            ProviderHoldOut(provider=h.group.value, paused=h.paused, reason=h.reason, since=h.since)
            for h in state.provider_holds
        ],
        senders=list(record.senders),
        caps=Caps(per_minute=step.per_minute, per_hour=step.per_hour, per_day=step.per_day),
        cap_today=view.cap_today,
        sent_today=view.sent_today,
        left_today=view.left_today,
        in_flight=view.in_flight,
        acs_quota_per_minute=record.quota.per_minute,
        acs_quota_per_hour=record.quota.per_hour,
        health=Health(
            level=verdict.level.name.lower(),
            reason=verdict.reason,
            reports=counts.total,
            failure_rate=round(counts.failure_rate, 6),
            hard_bounce_rate=round(counts.hard_bounce_rate, 6),
            complaint_rate=round(counts.complaint_rate, 6),
            hold_line=gates.failure_rate.hold,
            pause_line=gates.failure_rate.pause,
            window_hours=gates.window_hours,
        ),
    )
