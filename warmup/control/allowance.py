"""How many emails a sending domain may send right now.

The answer is the smallest of what is left under each cap that applies: the step's per-minute,
per-hour and per-day caps, and the ACS quota per minute and per hour times the plan's headroom,
given what was already sent in the trailing minute, the trailing hour and today (the plan's
timezone). Nothing outside the sending window or while paused. Per provider group, a share of the
step's hourly cap, less what that group already had in the trailing hour; nothing for a group its
own gates stopped, and its share is not given to the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from warmup.control.caps import AcsQuota, caps
from warmup.control.state import DomainState
from warmup.plans.model import Plan, ProviderGroup

__all__ = ["AcsQuota", "Allowance", "Usage", "allowance", "day_start", "in_window"]


@dataclass(frozen=True)
class Usage:
    """Sends already made: trailing 60 s, trailing 3600 s, and today in the plan's timezone."""

    last_minute: int = 0
    last_hour: int = 0
    today: int = 0
    provider_last_hour: Mapping[ProviderGroup, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Allowance:
    total: int
    limited_by: str
    # The window of the cap that limits: "minute", "hour" or "day" ("" when not a cap).
    per: str = ""
    # Only the groups the plan caps; a group not listed is limited by ``total`` alone.
    per_provider: Mapping[ProviderGroup, int] = field(default_factory=dict)

    def for_provider(self, group: ProviderGroup) -> int:
        return min(self.total, self.per_provider.get(group, self.total))


def day_start(plan: Plan, now: datetime) -> datetime:
    """Midnight of ``now``'s day in the plan's timezone: where "today" begins for its day cap."""
    return now.astimezone(plan.zone).replace(hour=0, minute=0, second=0, microsecond=0)


def in_window(plan: Plan, now: datetime) -> bool:
    """Inside the sending window: a sending day of the plan (not a blackout date), and within
    the window's hours."""
    local = now.astimezone(plan.zone)
    if not plan.sends_on(local.date()):
        return False
    return plan.window is None or plan.window.start <= local.time() < plan.window.end


def allowance(
    plan: Plan, state: DomainState, now: datetime, usage: Usage, quota: AcsQuota
) -> Allowance:
    if not state.sends:
        return Allowance(0, f"{state.status.value}: {state.reason}")
    if not in_window(plan, now):
        local = now.astimezone(plan.zone).date()
        return Allowance(
            0, "a blackout date" if local in plan.blackout_dates else "outside the sending window"
        )
    cap = caps(plan, state.step, quota)
    headroom = plan.quota.headroom
    limits = [
        (
            f"step {state.step} cap {cap.step_per_hour:,}/hour",
            cap.step_per_hour - usage.last_hour,
            "hour",
        ),
        (f"step {state.step} cap {cap.step_per_day:,}/day", cap.step_per_day - usage.today, "day"),
        (
            f"ACS quota {quota.per_minute:,}/minute × {headroom:g}",
            cap.acs_per_minute - usage.last_minute,
            "minute",
        ),
        (
            f"ACS quota {quota.per_hour:,}/hour × {headroom:g}",
            cap.acs_per_hour - usage.last_hour,
            "hour",
        ),
    ]
    if cap.step_per_minute is not None:
        limits.append(
            (
                f"step {state.step} cap {cap.step_per_minute:,}/minute",
                cap.step_per_minute - usage.last_minute,
                "minute",
            )
        )
    held = state.held_providers
    if held:
        # A group stopped by its own gates sends nothing, and its share of the hour stays
        # unused: the other groups keep their own caps, and together no more than the rest of
        # the hour. (A group without a share in the plan has none to withhold.)
        withheld = sum(cap.provider_per_hour.get(group, 0) for group in held)
        held_sent = sum(usage.provider_last_hour.get(group, 0) for group in held)
        names = ", ".join(sorted(group.value for group in held))
        limits.append(
            (
                f"step {state.step} cap {cap.step_per_hour:,}/hour less {names}'s share "
                f"({withheld:,}), held",
                cap.step_per_hour - withheld - (usage.last_hour - held_sent),
                "hour",
            )
        )
    limited_by, left, per = min(limits, key=lambda limit: limit[1])
    total = max(0, left)
    per_provider = {
        group: max(0, min(total, hourly - usage.provider_last_hour.get(group, 0)))
        for group, hourly in cap.provider_per_hour.items()
    }
    per_provider.update(dict.fromkeys(held, 0))
    return Allowance(total, limited_by, per, per_provider)
