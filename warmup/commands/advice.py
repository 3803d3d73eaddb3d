"""Quota advice as ``plan show`` and ``domain report`` print it."""

from __future__ import annotations

from datetime import date

from warmup.plans.schedule import QUOTA_LEAD_BUSINESS_DAYS
from warmup.views.domains import QuotaRequest


def quota_advice_text(request: QuotaRequest | None, against: str, today: date) -> str:
    """When to ask Microsoft for more quota and for how much; ``against`` names the quota
    compared with ("ACS's default quota", "the domain's quota")."""
    if request is None:
        return f"{against} covers every step of the plan: no quota request needed"
    minute = f", {request.per_minute:,}/minute" if request.per_minute else ""
    when = (
        f"ask now: fewer than {QUOTA_LEAD_BUSINESS_DAYS} business days are left"
        if request.ask_by < today
        else f"ask by {request.ask_by:%a %Y-%m-%d}"
    )
    return (
        f"step {request.step} is above {against} and is reached on "
        f"{request.needed_on:%a %Y-%m-%d} at the earliest: {when} "
        f"(Microsoft's review takes up to {QUOTA_LEAD_BUSINESS_DAYS} business days) for at least "
        f"{request.per_hour:,}/hour{minute}"
    )
