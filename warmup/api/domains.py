"""``/api/domains`` and ``/api/plans``: ops steer the warm-up; everyone may look.

Every change goes through the same controller and store as ``warmup domain ...``, so the rules
(resume steps back, set-step stays within the plan...) and the audit log are the same.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from warmup.api.audit_log import AuditOut, audit_out
from warmup.api.auth import Caller, Ops
from warmup.api.domain_shapes import (
    ApplyPlan,
    DomainIn,
    PlanCheck,
    PlanText,
    QuotaIn,
    Reason,
    SenderIn,
    SetStep,
)
from warmup.api.services import Found, Services
from warmup.control.caps import AcsQuota
from warmup.domains.actions import OpsRequest, act
from warmup.domains.record import DomainRecord
from warmup.errors import PlanError
from warmup.feedback.readiness import readiness
from warmup.plans.loader import parse_plan
from warmup.plans.model import ProviderGroup
from warmup.plans.presets import presets
from warmup.views.domains import (
    ChangeOut,
    DomainDetail,
    DomainOut,
    DomainReportOut,
    domain_detail,
    domain_report,
    domain_view,
)

router = APIRouter(prefix="/api", tags=["domains and plans"])


def _view(found: Services, record: DomainRecord) -> DomainOut:
    now = found.clock.now()
    return domain_view(found.stores, record, now, found.limiter, found.status_budget(now))


@router.get("/domains", tags=["domains and plans"])
def all_domains(_: Caller, found: Found) -> list[DomainOut]:
    """Every sending domain: status, step, today's cap and sends, health."""
    return [_view(found, record) for record in found.stores.domains.all()]


@router.post("/domains", status_code=201)
def add_domain(body: DomainIn, who: Ops, found: Found) -> DomainOut:
    """Register a sending domain and start its warm-up on a plan (YAML) at step 0."""
    record = found.stores.domains.create(
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
    store = found.stores.domains
    quota = AcsQuota(body.per_minute, body.per_hour)
    store.set_quota(name, quota, actor=who.actor, reason=body.reason, at=found.clock.now())
    return _view(found, store.get(name))


@router.post("/domains/{name}/senders")
def add_sender(name: str, body: SenderIn, who: Ops, found: Found) -> DomainOut:
    """Register another sender address on the domain."""
    store = found.stores.domains
    store.add_sender(name, body.address, actor=who.actor, at=found.clock.now())
    return _view(found, store.get(name))


@router.get("/domains/{name}")
def domain(name: str, _: Caller, found: Found) -> DomainDetail:
    """One domain, with its volume per day over the ramp: planned, sent, failure rate."""
    record = found.stores.domains.get(name)
    now = found.clock.now()
    return domain_detail(found.stores, record, now, found.limiter, found.status_budget(now))


def _change(found: Services, name: str, action: str, request: OpsRequest) -> ChangeOut:
    store = found.stores.domains
    decision = act(store, name, action, request)
    return ChangeOut(
        changes=[t.describe() for t in decision.transitions], domain=_view(found, store.get(name))
    )


@router.post("/domains/{name}/set-step")
def set_step(name: str, body: SetStep, who: Ops, found: Found) -> ChangeOut:
    request = OpsRequest(who.actor, body.reason, found.clock.now(), step=body.step)
    return _change(found, name, "set-step", request)


@router.post("/domains/{name}/apply-plan")
def apply_plan(name: str, body: ApplyPlan, who: Ops, found: Found) -> ChangeOut:
    """Switch to another plan (YAML), at the step nearest today's volume."""
    request = OpsRequest(
        who.actor,
        body.reason,
        found.clock.now(),
        plan=parse_plan(body.plan_yaml, "<plan_yaml>"),
        plan_yaml=body.plan_yaml,
    )
    return _change(found, name, "apply-plan", request)


@router.post("/domains/{name}/{action}")
def act_on(
    name: str,
    action: Literal["hold", "release", "pause", "resume"],
    body: Reason,
    who: Ops,
    found: Found,
) -> ChangeOut:
    """Hold (stop advancing), release, pause (stop sending at once) or resume (stepping back
    as the plan says)."""
    return _change(found, name, action, OpsRequest(who.actor, body.reason, found.clock.now()))


@router.post("/domains/{name}/providers/{provider}/release")
def release_provider(
    name: str, provider: ProviderGroup, body: Reason, who: Ops, found: Found
) -> ChangeOut:
    """Let one provider group's traffic go again, after its own gates held or paused it."""
    request = OpsRequest(who.actor, body.reason, found.clock.now(), provider=provider)
    return _change(found, name, "release-provider", request)


@router.get("/domains/{name}/report")
def report(name: str, _: Caller, found: Found) -> DomainReportOut:
    """Failure rates over 7 and 30 days, readiness for a quota increase, and when to ask for
    the next one."""
    now = found.clock.now()
    ready = readiness(found.database, found.stores.domains.get(name), now)
    return domain_report(found.stores, ready, now.date())


@router.get("/domains/{name}/audit")
def domain_audit(
    name: str,
    _: Caller,
    found: Found,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[AuditOut]:
    """The domain's audit log, newest first: who changed what, and why."""
    return [audit_out(e) for e in found.stores.domains.audit(name, limit)]


@router.get("/plans")
def preset_plans(_: Caller) -> dict[str, str]:
    """The plans that ship with warmup, as YAML to read or apply."""
    return {name: path.read_text(encoding="utf-8") for name, path in presets().items()}


@router.post("/plans/validate")
def validate(body: PlanText, _: Ops) -> PlanCheck:
    """Check a plan without applying it: every problem, with its line and field."""
    try:
        plan = parse_plan(body.plan_yaml, "<plan_yaml>")
    except PlanError as exc:
        return PlanCheck(valid=False, name=None, steps=0, problems=exc.problems)
    return PlanCheck(valid=True, name=plan.name, steps=len(plan.steps), problems=[])
