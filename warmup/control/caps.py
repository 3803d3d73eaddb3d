"""The caps a domain's sends count against, from its plan, step and the ACS quota (pure).

One place for the arithmetic: the dispatcher's allowance and the limiter's windows both read
these figures, so the two can never disagree about a cap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from warmup.plans.model import ACS_DEFAULT_PER_HOUR, ACS_DEFAULT_PER_MINUTE, Plan, ProviderGroup


@dataclass(frozen=True)
class AcsQuota:
    """The subscription's quota today (raised by Microsoft on request)."""

    per_minute: int = ACS_DEFAULT_PER_MINUTE
    per_hour: int = ACS_DEFAULT_PER_HOUR


@dataclass(frozen=True)
class Caps:
    step_per_minute: int | None
    step_per_hour: int
    step_per_day: int
    # The quota times the plan's headroom: shared by every domain of the subscription.
    acs_per_minute: int
    acs_per_hour: int
    # Only the groups the plan gives a share of the step's hourly cap.
    provider_per_hour: Mapping[ProviderGroup, int]


def caps(plan: Plan, step_index: int, quota: AcsQuota) -> Caps:
    step = plan.step(step_index)
    headroom = plan.quota.headroom
    return Caps(
        step_per_minute=step.per_minute,
        step_per_hour=step.per_hour,
        step_per_day=step.per_day,
        acs_per_minute=math.floor(quota.per_minute * headroom),
        acs_per_hour=math.floor(quota.per_hour * headroom),
        provider_per_hour={
            group: math.floor(share * step.per_hour)
            for group, share in (plan.providers or {}).items()
        },
    )
