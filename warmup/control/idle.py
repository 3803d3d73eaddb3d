"""Why a domain is not sending right now, and until when (pure).

``domain status`` used to say "ramping" whether mail was flowing or not. This names the one
reason that stops it now, in the order an operator would check: the domain's own status, the
sending window, work to do, an ACS throttle, then the cap that is spent, with the time it
frees up. The allowance (:mod:`warmup.control.allowance`) decides; this only explains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from warmup.control.allowance import Allowance, day_start, in_window
from warmup.control.caps import AcsQuota, caps
from warmup.control.state import DomainState
from warmup.plans.model import Plan

# A plan has at least one sending weekday, so an opening is found within a year and a week,
# blackout dates included (a plan cannot black out a whole year).
SEARCH_DAYS = 372


@dataclass(frozen=True)
class SendingNow:
    sending: bool
    reason: str
    until: datetime | None = None  # when the reason ends, if it ends by itself


@dataclass(frozen=True)
class SpentWindows:
    """When the oldest send still counted in each trailing window was accepted: the window
    frees a slot once that send is a minute (an hour) old."""

    oldest_last_minute: datetime | None = None
    oldest_last_hour: datetime | None = None


def next_opening(plan: Plan, now: datetime) -> datetime | None:
    """The next moment the plan's window opens after ``now``."""
    local = now.astimezone(plan.zone)
    opens = plan.window.start if plan.window else time(0)
    for offset in range(SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if not plan.sends_on(day):
            continue
        start = datetime.combine(day, opens, tzinfo=plan.zone)
        if start > now:
            return start
    return None


def _when(moment: datetime, plan: Plan, now: datetime) -> str:
    local = moment.astimezone(plan.zone)
    if local.date() == now.astimezone(plan.zone).date():
        return f"{local:%H:%M} {plan.timezone}"
    return f"{local:%a %Y-%m-%d %H:%M} {plan.timezone}"


def sending_now(
    plan: Plan,
    state: DomainState,
    now: datetime,
    granted: Allowance,
    *,
    pending: int,
    throttled_until: datetime | None = None,
    spent: SpentWindows = SpentWindows(),
) -> SendingNow:
    """Whether the domain sends now; if not, the reason and when it ends.

    ``granted`` is the allowance for ``now``; ``pending`` the rows its running campaigns have
    left; ``throttled_until`` the end of an ACS Retry-After that holds every worker back.
    """
    if not state.sends:
        return SendingNow(False, f"{state.status.value}: {state.reason}")
    if not in_window(plan, now):
        opening = next_opening(plan, now)
        local = now.astimezone(plan.zone).date()
        why = "a blackout date" if local in plan.blackout_dates else "outside the sending window"
        tail = f" until {_when(opening, plan, now)}" if opening else ""
        return SendingNow(False, f"{why}{tail}", opening)
    if pending == 0:
        return SendingNow(False, "nothing to send: no running campaign has rows left")
    if throttled_until is not None and throttled_until > now:
        return SendingNow(
            False,
            f"waiting for ACS quota (Retry-After) until {_when(throttled_until, plan, now)}",
            throttled_until,
        )
    if granted.total > 0:
        return SendingNow(True, f"sending: up to {granted.total:,} more now")
    until = _frees_at(plan, now, granted.per, spent)
    tail = f" until {_when(until, plan, now)}" if until else ""
    return SendingNow(False, f"{granted.limited_by} spent{tail}", until)


def _frees_at(plan: Plan, now: datetime, per: str, spent: SpentWindows) -> datetime | None:
    if per == "day":
        return next_opening(plan, day_start(plan, now) + timedelta(days=1) - timedelta(seconds=1))
    if per == "hour" and spent.oldest_last_hour is not None:
        return spent.oldest_last_hour + timedelta(hours=1)
    if per == "minute" and spent.oldest_last_minute is not None:
        return spent.oldest_last_minute + timedelta(minutes=1)
    return None


# A new domain silent for longer than this is worth saying at `domain add` and `plan show`.
QUIET_START = timedelta(hours=1)


def quiet_start(plan: Plan, quota: AcsQuota, now: datetime) -> str | None:
    """When a domain starting on ``plan`` now would send nothing for more than an hour (its
    window closed, or a blackout date), when its first send can be and at what rate; else
    ``None``. The reasons ``domain status`` gives later are right, but nothing warned."""
    if in_window(plan, now):
        return None
    opening = next_opening(plan, now)
    if opening is None or opening - now <= QUIET_START:
        return None
    first = caps(plan, 0, quota)
    per_hour = min(first.step_per_hour, first.acs_per_hour)
    limit = "the ACS quota" if first.acs_per_hour < first.step_per_hour else "the plan's step 0"
    return (
        f"nothing will be sent before {_when(opening, plan, now)} (the plan's sending window); "
        f"then at most {per_hour:,} an hour ({limit})"
    )
