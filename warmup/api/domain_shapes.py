"""The shapes ``/api/domains`` and ``/api/plans`` accept (what they answer is in
:mod:`warmup.views.domains`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from warmup.api.bodies import Body
from warmup.plans.model import ACS_DEFAULT_PER_HOUR, ACS_DEFAULT_PER_MINUTE

Why = Annotated[str, Field(min_length=1, max_length=2000)]
PlanYaml = Annotated[str, Field(min_length=1, max_length=64 * 1024)]


class Reason(Body):
    reason: Why


class SetStep(Body):
    step: Annotated[int, Field(ge=0, le=1000)]
    reason: Why


class ApplyPlan(Body):
    plan_yaml: PlanYaml
    reason: Why


Address = Annotated[str, Field(min_length=3, max_length=320)]
PerMinute = Annotated[int, Field(ge=1, le=10_000_000)]
PerHour = Annotated[int, Field(ge=1, le=100_000_000)]


class DomainIn(Body):
    name: Annotated[str, Field(min_length=3, max_length=253)]
    plan_yaml: PlanYaml
    senders: Annotated[list[Address], Field(max_length=100, default_factory=list)]
    acs_quota_per_minute: PerMinute = ACS_DEFAULT_PER_MINUTE
    acs_quota_per_hour: PerHour = ACS_DEFAULT_PER_HOUR


class QuotaIn(Body):
    per_minute: PerMinute
    per_hour: PerHour
    reason: Why = "quota raised by Microsoft"


class SenderIn(Body):
    address: Address


class PlanText(Body):
    plan_yaml: PlanYaml


class PlanCheck(BaseModel):
    valid: bool
    name: str | None
    steps: int
    problems: list[str]
