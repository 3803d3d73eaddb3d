"""The one shape of a domain's DMARC aggregate reports (`warmup dmarc report`)."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel

from warmup.control.alignment import (
    AlignmentDay,
    acs_aligned_share,
    policy_step,
    unknown_surge,
)
from warmup.feedback.dmarc_store import DmarcStore


class DmarcDayOut(BaseModel):
    day: date
    acs_messages: int
    acs_aligned: int
    other_messages: int  # from sources that are not ACS's
    other_aligned: int


class OtherSourceOut(BaseModel):
    source_ip: str
    messages: int
    aligned: int
    reporters: int  # receivers that saw it


class PolicyStepOut(BaseModel):
    current: str
    next: str
    ready_on: date | None  # None: not yet
    days_in_run: int
    needed_days: int
    words: str


class DmarcReportOut(BaseModel):
    domain: str
    since: date
    reporters: list[str]
    acs_messages: int
    # The aligned share of ACS's mail (None: no report counted any).
    acs_aligned_share: float | None
    other_messages: int
    other_unaligned: int
    other_sources: list[OtherSourceOut]
    policy: str | None  # as the newest report saw it published
    next_policy: PolicyStepOut | None
    warnings: list[str]
    days: list[DmarcDayOut]


def dmarc_report(store: DmarcStore, domain: str, today: date, days: int = 30) -> DmarcReportOut:
    since = today - timedelta(days=days - 1)
    found = store.days(domain, since)
    policy = store.policy(domain)
    step = policy_step(found, policy)
    surge = unknown_surge(found)
    return DmarcReportOut(
        domain=domain,
        since=since,
        reporters=list(store.reporters(domain, since)),
        acs_messages=sum(d.acs_messages for d in found),
        acs_aligned_share=acs_aligned_share(found),
        other_messages=sum(d.other_messages for d in found),
        other_unaligned=sum(d.other_unaligned for d in found),
        other_sources=[OtherSourceOut(**vars(s)) for s in store.other_sources(domain, since)],
        policy=policy,
        next_policy=None
        if step is None
        else PolicyStepOut(
            current=step.current,
            next=step.next,
            ready_on=step.ready_on,
            days_in_run=step.days_in_run,
            needed_days=step.needed_days,
            words=step.words(),
        ),
        warnings=[surge] if surge else [],
        days=[DmarcDayOut(**vars(d)) for d in found],
    )


class DmarcSummaryOut(BaseModel):
    """What the last two weeks of DMARC aggregate reports say, beside a domain's status."""

    last_day: date  # the newest day reported
    acs_aligned_share_7_days: float | None
    other_unaligned_7_days: int
    policy: str | None
    next_policy: str | None  # in words: when p= could be tightened
    warnings: list[str]


def recent_days(
    store: DmarcStore, domain: str, today: date
) -> tuple[list[AlignmentDay], list[AlignmentDay]]:
    """The last two weeks of reported days, and the last one of them: the week for the
    aligned share, the week before as the surge's baseline (domain status and /metrics)."""
    found = store.days(domain, today - timedelta(days=13))
    return found, [d for d in found if d.day > today - timedelta(days=7)]


def dmarc_summary(store: DmarcStore, domain: str, today: date) -> DmarcSummaryOut | None:
    """None when no report of the last 14 days counted the domain's mail."""
    found, week = recent_days(store, domain, today)
    if not found:
        return None
    policy = store.policy(domain)
    step = policy_step(found, policy)
    surge = unknown_surge(found)
    return DmarcSummaryOut(
        last_day=found[-1].day,
        acs_aligned_share_7_days=acs_aligned_share(week),
        other_unaligned_7_days=sum(d.other_unaligned for d in week),
        policy=policy,
        next_policy=step.words() if step is not None else None,
        warnings=[surge] if surge else [],
    )
