"""How many emails a sending domain may send right now.

The answer is the smallest of what is left under each cap that applies: the step's per-minute,
per-hour and per-day caps, and the ACS quota per minute and per hour times the plan's headroom,
given what was already sent in the trailing minute, the trailing hour and today (the plan's
timezone). Nothing outside the sending window or while paused. Per provider group, a share of the
step's hourly cap, less what that group already had in the trailing hour; for a group its own
gates hold, only its probe (a small share, for fresh evidence; nothing while paused), and the
rest of its share is not given to the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from warmup.control.caps import AcsQuota, Caps, caps
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
    step = state.step
    # Each limit: its words (made only for the one that limits: this runs every simulated
    # minute), what is left under it, and its window.
    limits: list[tuple[Callable[[], str], int, str]] = [
        (
            lambda: f"step {step} cap {cap.step_per_hour:,}/hour",
            cap.step_per_hour - usage.last_hour,
            "hour",
        ),
        (
            lambda: f"step {step} cap {cap.step_per_day:,}/day",
            cap.step_per_day - usage.today,
            "day",
        ),
        (
            lambda: f"ACS quota {quota.per_minute:,}/minute × {headroom:g}",
            cap.acs_per_minute - usage.last_minute,
            "minute",
        ),
        (
            lambda: f"ACS quota {quota.per_hour:,}/hour × {headroom:g}",
            cap.acs_per_hour - usage.last_hour,
            "hour",
        ),
    ]
    if cap.step_per_minute is not None:
        per_minute = cap.step_per_minute
        limits.append(
            (
                lambda: f"step {step} cap {per_minute:,}/minute",
                per_minute - usage.last_minute,
                "minute",
            )
        )
    held = state.held_providers
    probes: dict[ProviderGroup, int] = {}
    if held:
        # A group stopped by its own gates sends only its probe (a share of its hourly cap,
        # for fresh evidence; none while paused), and the rest of its share stays unused: the
        # other groups keep their own caps, and together no more than the rest of the hour.
        # (A group without a share in the plan has none to withhold.)
        withheld = sum(cap.provider_per_hour.get(group, 0) for group in held)
        held_sent = sum(usage.provider_last_hour.get(group, 0) for group in held)
        probes = {group: _probe_room(plan, state, group, cap, usage) for group in held}
        others_room = cap.step_per_hour - withheld - (usage.last_hour - held_sent)
        limits.append(
            (
                lambda: (
                    f"step {step} cap {cap.step_per_hour:,}/hour less {_names(held)}'s share "
                    f"({withheld:,}), held"
                ),
                others_room + sum(probes.values()),
                "hour",
            )
        )
    words, left, per = min(limits, key=lambda limit: limit[1])
    limited_by = words()
    total = max(0, left)
    per_provider = {
        group: max(0, min(total, hourly - usage.provider_last_hour.get(group, 0)))
        for group, hourly in cap.provider_per_hour.items()
    }
    if held:
        # The others may not take the probes' part of the hour.
        room = max(0, total - sum(probes.values()))
        for group in ProviderGroup:
            per_provider[group] = min(per_provider.get(group, room), room)
        per_provider.update({group: min(total, n) for group, n in probes.items()})
    return Allowance(total, limited_by, per, per_provider)


def _names(groups: frozenset[ProviderGroup]) -> str:
    return ", ".join(sorted(group.value for group in groups))


def probe_per_hour(plan: Plan, cap: Caps, group: ProviderGroup) -> int:
    """How many a held group's probe may send an hour: its probe share of its hourly cap (its
    share of the step's hour, or the whole hour for a group the plan gives no share)."""
    share = cap.provider_per_hour.get(group, cap.step_per_hour)
    return int(share * plan.gates_for(group).probe_share)


def _probe_room(
    plan: Plan, state: DomainState, group: ProviderGroup, cap: Caps, usage: Usage
) -> int:
    hold = state.provider_hold(group)
    if hold is None or hold.paused:
        return 0
    return max(0, probe_per_hour(plan, cap, group) - usage.provider_last_hour.get(group, 0))
