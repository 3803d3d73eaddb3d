"""The earliest schedule a plan allows: every day a healthy sending day at full cap.

From it come ``warmup plan show``'s table (when each step is reached, the volume sent by then,
which steps need a raised ACS quota) and the "planned" line of the simulation chart.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from warmup.plans.model import (
    ACS_DEFAULT_PER_HOUR,
    ACS_DEFAULT_PER_MINUTE,
    PRICE_PER_EMAIL,
    PRICE_PER_MB,
    Plan,
    Step,
)


def sending_dates(plan: Plan, start: date) -> Iterator[date]:
    """Calendar dates from ``start`` on which the plan lets the domain send (its window's
    weekdays, blackout dates left out)."""
    day = start
    while True:
        if plan.sends_on(day):
            yield day
        day += timedelta(days=1)


def daily_capacity(plan: Plan, step: Step) -> int:
    """What a step can really send in a day: its daily cap, or less if the window is short."""
    hours = plan.window.hours_per_day if plan.window else 24.0
    return min(step.per_day, math.floor(step.per_hour * hours))


# Microsoft's review of a quota increase can take up to 72 hours, counted in business days.
QUOTA_LEAD_BUSINESS_DAYS = 3


def needs_raised_quota(
    plan: Plan,
    step: Step,
    per_minute: int = ACS_DEFAULT_PER_MINUTE,
    per_hour: int = ACS_DEFAULT_PER_HOUR,
) -> bool:
    """Above an ACS quota (by default a new custom domain's), after the plan's headroom."""
    headroom = plan.quota.headroom
    over_hour = step.per_hour > math.floor(per_hour * headroom)
    over_minute = step.per_minute is not None and step.per_minute > math.floor(
        per_minute * headroom
    )
    return over_hour or over_minute


def ask_by(needed_on: date, business_days: int = QUOTA_LEAD_BUSINESS_DAYS) -> date:
    """The last day to request a quota increase needed on ``needed_on``: that many business
    days (Monday to Friday) before it."""
    day = needed_on
    while business_days:
        day -= timedelta(days=1)
        business_days -= day.weekday() < 5
    return day


@dataclass(frozen=True)
class QuotaAdvice:
    """When to ask Microsoft for more quota, and for how much."""

    step: int  # the first step above the quota
    per_minute: int | None  # what that step needs
    per_hour: int
    needed_on: date  # the earliest day the ramp reaches it
    ask_by: date


def quota_advice(
    plan: Plan,
    *,
    step: int,
    healthy_days_at_step: int,
    today: date,
    per_minute: int = ACS_DEFAULT_PER_MINUTE,
    per_hour: int = ACS_DEFAULT_PER_HOUR,
) -> QuotaAdvice | None:
    """The first step from ``step`` on that needs more than the quota, reached at the earliest
    (every sending day healthy); None if the quota covers the whole plan."""
    dates = sending_dates(plan, today)
    on = next(dates)
    days_at_step = healthy_days_at_step
    for index in range(step, plan.last_step + 1):
        current = plan.step(index)
        if needs_raised_quota(plan, current, per_minute, per_hour):
            wanted = math.ceil(current.per_hour / plan.quota.headroom)
            minute = current.per_minute and math.ceil(current.per_minute / plan.quota.headroom)
            return QuotaAdvice(index, minute, wanted, on, ask_by(on))
        for _ in range(max(0, plan.advance.healthy_days - days_at_step)):
            on = next(dates)
        days_at_step = 0
    return None


def usd(amount: float) -> str:
    """Dollars as people read them: cents above a dollar, tenths of a cent below."""
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def cost(volume: int, message_kb: float) -> float:
    """Estimated ACS price in USD for ``volume`` single-recipient emails of ``message_kb``."""
    return volume * (PRICE_PER_EMAIL + PRICE_PER_MB * message_kb / 1024)


@dataclass(frozen=True)
class StepRow:
    index: int
    step: Step
    sending_day: int  # 1-based sending day on which the step is reached at the earliest
    reached_on: date
    volume_before: int  # sent on the earlier steps by then
    needs_raised_quota: bool


@dataclass(frozen=True)
class Schedule:
    plan: Plan
    rows: tuple[StepRow, ...]
    message_kb: float

    @property
    def final(self) -> StepRow:
        return self.rows[-1]

    @property
    def sending_days_to_final(self) -> int:
        return self.final.sending_day - 1

    @property
    def calendar_days_to_final(self) -> int:
        return (self.final.reached_on - self.rows[0].reached_on).days

    @property
    def ramp_volume(self) -> int:
        return self.final.volume_before

    @property
    def ramp_cost(self) -> float:
        return cost(self.ramp_volume, self.message_kb)

    def planned_cap(self, on: date) -> int:
        """The daily capacity the earliest schedule gives on a calendar day (0 off-window)."""
        if on < self.rows[0].reached_on or not self.plan.sends_on(on):
            return 0
        current = [row for row in self.rows if row.reached_on <= on][-1]
        return daily_capacity(self.plan, current.step)


def earliest_schedule(plan: Plan, start: date, message_kb: float = 50.0) -> Schedule:
    dates = sending_dates(plan, start)
    rows: list[StepRow] = []
    day_number = 1
    volume = 0
    on = next(dates)
    for index, step in enumerate(plan.steps):
        rows.append(StepRow(index, step, day_number, on, volume, needs_raised_quota(plan, step)))
        if index == plan.last_step:
            break
        for _ in range(plan.advance.healthy_days):
            volume += daily_capacity(plan, step)
            day_number += 1
            on = next(dates)
    return Schedule(plan, tuple(rows), message_kb)


def sending_days_needed(
    plan: Plan,
    *,
    step: int,
    healthy_days_at_step: int,
    remaining: int,
    per_hour_ceiling: int,
    share: float = 1.0,
) -> int:
    """Sending days to send ``remaining`` emails from ``step`` on, if every day is healthy.

    ``per_hour_ceiling`` is the ACS quota per hour after headroom; ``share`` the part of the
    domain's volume this campaign gets (fair share with the domain's other running campaigns).
    """
    if remaining <= 0:
        return 0
    days = 0
    days_at_step = healthy_days_at_step
    while remaining > 0:
        current = plan.step(step)
        hours = plan.window.hours_per_day if plan.window else 24.0
        capacity = min(daily_capacity(plan, current), math.floor(per_hour_ceiling * hours))
        remaining -= max(1, math.floor(capacity * share))
        days += 1
        days_at_step += 1
        if days_at_step >= plan.advance.healthy_days and step < plan.last_step:
            step, days_at_step = step + 1, 0
    return days


def nth_sending_date(plan: Plan, start: date, n: int) -> date:
    """The date of the ``n``-th sending day from ``start`` (1 = the first), window respected."""
    dates = sending_dates(plan, start)
    return next(itertools.islice(dates, n - 1, None))
