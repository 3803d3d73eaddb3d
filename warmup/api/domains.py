"""``/api/domains`` and ``/api/plans``: ops steer the warm-up; everyone may look.

Every change goes through the same controller and store as ``warmup domain ...``, so the rules
(resume steps back, set-step stays within the plan...) and the audit log are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from warmup.api.audit_log import AuditOut, audit_out
from warmup.api.auth import Caller, Ops
from warmup.api.services import Services, services
from warmup.control import machine
from warmup.control.allowance import AcsQuota
from warmup.control.machine import Decision
from warmup.control.state import DomainState
from warmup.errors import PlanError
from warmup.feedback.overview import DomainOverview, history, overview
from warmup.feedback.readiness import readiness
from warmup.plans.loader import parse_plan
from warmup.plans.model import ACS_DEFAULT_PER_HOUR, ACS_DEFAULT_PER_MINUTE, Plan
from warmup.plans.presets import presets
from warmup.store.domains import DomainRecord, DomainStore
from warmup.store.tokens import TokenInfo

router = APIRouter(prefix="/api", tags=["domains and plans"])
Found = Annotated[Services, Depends(services)]
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


class DomainOut(BaseModel):
    name: str
    plan: str
    step: int
    last_step: int
    status: str
    reason: str
    since: datetime | None
    held_by: str | None
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


def _out(view: DomainOverview) -> DomainOut:
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


def _view(found: Services, record: DomainRecord) -> DomainOut:
    return _out(overview(found.database, record, found.clock.now()))


@router.get("/domains", tags=["domains and plans"])
def all_domains(_: Caller, found: Found) -> list[DomainOut]:
    """Every sending domain: status, step, today's cap and sends, health."""
    return [_view(found, record) for record in DomainStore(found.database).all()]


@router.post("/domains", status_code=201)
def add_domain(body: DomainIn, who: Ops, found: Found) -> DomainOut:
    """Register a sending domain and start its warm-up on a plan (YAML) at step 0."""
    record = DomainStore(found.database).create(
        body.name,
        parse_plan(body.plan_yaml, "<plan_yaml>"),
        body.plan_yaml,
        quota=AcsQuota(body.acs_quota_per_minute, body.acs_quota_per_hour),
        senders=body.senders,
        actor=who.actor,
        at=found.clock.now(),
    )
    return _view(found, record)


@router.post("/domains/{name}/quota")
def set_quota(name: str, body: QuotaIn, who: Ops, found: Found) -> DomainOut:
    """Record the subscription's ACS quota after Microsoft raises it."""
    store = DomainStore(found.database)
    quota = AcsQuota(body.per_minute, body.per_hour)
    store.set_quota(name, quota, actor=who.actor, reason=body.reason, at=found.clock.now())
    return _view(found, store.get(name))


@router.post("/domains/{name}/senders")
def add_sender(name: str, body: SenderIn, who: Ops, found: Found) -> DomainOut:
    """Register another sender address on the domain."""
    store = DomainStore(found.database)
    store.add_sender(name, body.address, actor=who.actor, at=found.clock.now())
    return _view(found, store.get(name))


@router.get("/domains/{name}")
def domain(name: str, _: Caller, found: Found) -> DomainDetail:
    """One domain, with its volume per day over the ramp: planned, sent, failure rate."""
    record = DomainStore(found.database).get(name)
    days = history(found.database, record, found.clock.now())
    return DomainDetail(
        **_view(found, record).model_dump(),
        history=[
            DayOut(
                day=d.day,
                planned=d.planned,
                sent=d.sent,
                reports=d.reports,
                failure_rate=round(d.failure_rate, 6),
            )
            for d in days
        ],
    )


Decide = Callable[[DomainRecord], Decision]


def _change(found: Services, name: str, decide: Decide, plan_yaml: str | None = None) -> ChangeOut:
    store = DomainStore(found.database)
    decision = store.transition(name, decide, plan_yaml=plan_yaml)
    return ChangeOut(
        changes=[t.describe() for t in decision.transitions], domain=_view(found, store.get(name))
    )


Action = Callable[[Plan, DomainState, TokenInfo, str, datetime], Decision]
ACTIONS: dict[str, Action] = {
    "hold": lambda plan, state, who, why, at: machine.hold(
        state, actor=who.actor, reason=why, at=at
    ),
    "release": lambda plan, state, who, why, at: machine.release(
        plan, state, actor=who.actor, reason=why, at=at
    ),
    "pause": lambda plan, state, who, why, at: machine.pause(
        state, actor=who.actor, reason=why, at=at
    ),
    "resume": lambda plan, state, who, why, at: machine.resume(
        plan, state, actor=who.actor, reason=why, at=at
    ),
}


@router.post("/domains/{name}/set-step")
def set_step(name: str, body: SetStep, who: Ops, found: Found) -> ChangeOut:
    at = found.clock.now()
    return _change(
        found,
        name,
        lambda r: machine.set_step(
            r.plan, r.state, body.step, actor=who.actor, reason=body.reason, at=at
        ),
    )


@router.post("/domains/{name}/apply-plan")
def apply_plan(name: str, body: ApplyPlan, who: Ops, found: Found) -> ChangeOut:
    """Switch to another plan (YAML), at the step nearest today's volume."""
    new_plan = parse_plan(body.plan_yaml, "<plan_yaml>")
    at = found.clock.now()
    return _change(
        found,
        name,
        lambda r: machine.apply_plan(
            new_plan, r.plan, r.state, actor=who.actor, reason=body.reason, at=at
        ),
        plan_yaml=body.plan_yaml,
    )


@router.post("/domains/{name}/{action}")
def act(
    name: str,
    action: Literal["hold", "release", "pause", "resume"],
    body: Reason,
    who: Ops,
    found: Found,
) -> ChangeOut:
    """Hold (stop advancing), release, pause (stop sending at once) or resume (stepping back
    as the plan says)."""
    at = found.clock.now()
    step = ACTIONS[action]
    return _change(found, name, lambda r: step(r.plan, r.state, who, body.reason, at))


@router.get("/domains/{name}/report")
def report(name: str, _: Caller, found: Found) -> dict[str, object]:
    """Failure rates over 7 and 30 days and readiness for a quota increase."""
    ready = readiness(found.database, name, found.clock.now())
    return {
        "domain": ready.record.state.domain,
        "days": [{"day": day.isoformat(), "sent": sent} for day, sent in ready.days],
        "failure_rate_7_days": ready.last_7.failure_rate,
        "failure_rate_30_days": ready.last_30.failure_rate,
        "reports_30_days": ready.last_30.reports,
        "peak_day": ready.peak_day,
        "average_sending_day": ready.average_day,
        "under_2_percent": ready.under_2_percent,
        "under_1_percent": ready.under_1_percent,
        "plan_needs_per_hour": ready.target_per_hour,
    }


@router.get("/domains/{name}/audit")
def domain_audit(
    name: str,
    _: Caller,
    found: Found,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[AuditOut]:
    """The domain's audit log, newest first: who changed what, and why."""
    return [audit_out(e) for e in DomainStore(found.database).audit(name, limit)]


@router.get("/plans")
def preset_plans(_: Caller) -> dict[str, str]:
    """The plans that ship with warmup, as YAML to read or apply."""
    return {name: path.read_text(encoding="utf-8") for name, path in presets().items()}


@router.post("/plans/validate")
def validate(body: PlanText, _: Caller) -> PlanCheck:
    """Check a plan without applying it: every problem, with its line and field."""
    try:
        plan = parse_plan(body.plan_yaml, "<plan_yaml>")
    except PlanError as exc:
        return PlanCheck(valid=False, name=None, steps=0, problems=exc.problems)
    return PlanCheck(valid=True, name=plan.name, steps=len(plan.steps), problems=[])
