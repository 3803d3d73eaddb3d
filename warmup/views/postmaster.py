"""The one shape of a domain's Gmail Postmaster Tools days (`warmup postmaster report`, the
domain's status, the API and the dashboard's chart)."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel

from warmup.control.postmaster import (
    PostmasterDay,
    authentication_warnings,
    judge_day,
    last_judged,
)
from warmup.control.state import DomainState
from warmup.feedback.postmaster_store import PostmasterStore
from warmup.plans.model import Postmaster

RECENT_DAYS = 30  # what a status shows: the chart's month


class DeliveryErrorOut(BaseModel):
    error_class: str  # PERMANENT_ERROR, TEMPORARY_ERROR
    error_type: str  # e.g. RATE_LIMIT_EXCEEDED, SUSPECTED_SPAM
    ratio: float  # of the day's authenticated traffic


class PostmasterDayOut(BaseModel):
    day: date
    # User-reported spam over mail sent to the inbox, with Google's 95 % interval; None: Google
    # gave no figure (too little Gmail traffic that day).
    spam_ratio: float | None
    spam_lower: float | None
    spam_upper: float | None
    reputation: str | None  # HIGH, MEDIUM, LOW, BAD
    spf_ratio: float | None
    dkim_ratio: float | None
    dmarc_ratio: float | None
    delivery_errors: list[DeliveryErrorOut]
    verdict: str  # what the plan's gate makes of the day: ok, hold, pause or unknown
    reason: str


class PostmasterOut(BaseModel):
    domain: str
    since: date
    # The plan's lines, for charts: hold and pause on the spam rate.
    spam_hold_line: float
    spam_pause_line: float
    acts_on: str  # gmail: the gmail provider group; domain: the whole domain
    last_judged: date | None  # the newest day the gate has judged at a day's close
    last: PostmasterDayOut | None  # the newest day kept
    # Authentication below the plan's lines on the newest day (e.g. DKIM < 98 %).
    warnings: list[str]
    days: list[PostmasterDayOut]  # oldest first


def day_out(rules: Postmaster, day: PostmasterDay) -> PostmasterDayOut:
    verdict = judge_day(rules, day)
    return PostmasterDayOut(
        day=day.day,
        spam_ratio=day.spam_ratio,
        spam_lower=day.spam_lower,
        spam_upper=day.spam_upper,
        reputation=day.reputation.value if day.reputation else None,
        spf_ratio=day.spf_ratio,
        dkim_ratio=day.dkim_ratio,
        dmarc_ratio=day.dmarc_ratio,
        delivery_errors=[
            DeliveryErrorOut(error_class=c, error_type=t, ratio=r)
            for c, t, r in day.delivery_errors
        ],
        verdict=verdict.level.name.lower(),
        reason=verdict.reason,
    )


def postmaster_summary(
    store: PostmasterStore,
    rules: Postmaster,
    state: DomainState,
    today: date,
    days: int = RECENT_DAYS,
) -> PostmasterOut | None:
    """The domain's last ``days`` days; None when none is kept."""
    since = today - timedelta(days=days - 1)
    found = store.days(state.domain, since)
    if not found:
        return None
    shown = [day_out(rules, d) for d in found]
    return PostmasterOut(
        domain=state.domain,
        since=since,
        spam_hold_line=rules.spam_rate.hold,
        spam_pause_line=rules.spam_rate.pause,
        acts_on=rules.acts_on.value,
        last_judged=last_judged(state),
        last=shown[-1],
        warnings=authentication_warnings(rules, found[-1]),
        days=shown,
    )
