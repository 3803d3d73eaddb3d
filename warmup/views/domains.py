"""A sending domain as the API and ``warmup domain status --json`` show it."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import redis
from pydantic import BaseModel

from warmup.control.allowance import probe_per_hour
from warmup.control.authentication import unauthenticated
from warmup.control.dns_posture import DnsPosture
from warmup.control.dns_posture import problems as dns_problems
from warmup.control.dns_posture import warnings as dns_warnings
from warmup.control.idle import SendingNow
from warmup.domains.record import DomainRecord
from warmup.feedback.overview import DomainOverview, history, overview, sending
from warmup.feedback.readiness import Readiness
from warmup.ledger.recoveries import domain_recovery
from warmup.pipeline.outcome_poll import StatusBudget
from warmup.plans.schedule import QuotaAdvice, quota_advice
from warmup.ratelimit.base import Limiter
from warmup.views.dmarc import DmarcSummaryOut, dmarc_summary
from warmup.views.postmaster import PostmasterDayOut, PostmasterOut, postmaster_summary
from warmup.views.recovery import RecoveryOut, recovery_out
from warmup.wiring import Stores


class Caps(BaseModel):
    per_minute: int | None
    per_hour: int
    per_day: int


class Health(BaseModel):
    level: str  # unknown, ok, warn, hold, pause
    reason: str
    reports: int
    failure_rate: float
    hard_bounce_rate: float
    complaint_rate: float
    hold_line: float  # the plan's failure-rate thresholds, for charts
    pause_line: float
    window_hours: int


class ProviderHoldOut(BaseModel):
    provider: str  # gmail, microsoft, yahoo, other
    # paused: until ops release it; held: until its probe's reports show it healthy again
    paused: bool
    reason: str  # with the rate's confidence interval, as the gates decided on it
    since: datetime
    # Held: how many an hour it still sends, for fresh evidence (0: paused, or no probe).
    probe_per_hour: int = 0


class SendingOut(BaseModel):
    """Whether the domain sends right now; if not, why and until when."""

    now: bool
    reason: str  # e.g. "outside the sending window until Mon 2026-12-07 08:00 Europe/Paris"
    until: datetime | None  # when the reason ends by itself (None: it takes someone, or work)


class AuthenticationOut(BaseModel):
    """The domain's DNS records as ACS last verified them (`warmup acs domain check`)."""

    management: str
    states: dict[str, str]
    checked_at: datetime
    # SPF, DKIM or DMARC not verified: campaigns do not start without an override.
    unverified: list[str]


class DnsPostureOut(BaseModel):
    """The domain's SPF, DMARC and MX as DNS last gave them (`warmup acs domain check`)."""

    checked_at: datetime
    spf_record: str | None
    spf_lookups: int | None
    spf_includes_acs: bool
    dmarc_record: str | None
    dmarc_policy: str | None
    dmarc_rua: list[str]
    mx_hosts: list[str]
    # SPF over ten lookups, no DMARC record...: campaigns do not start without an override.
    problems: list[str]
    # p=none with no rua, no MX...: shown, not enforced.
    warnings: list[str]


def dns_posture_out(posture: DnsPosture | None) -> DnsPostureOut | None:
    if posture is None:
        return None
    return DnsPostureOut(
        checked_at=posture.checked_at,
        spf_record=posture.spf_record,
        spf_lookups=posture.spf_lookups,
        spf_includes_acs=posture.spf_includes_acs,
        dmarc_record=posture.dmarc_record,
        dmarc_policy=posture.dmarc_policy,
        dmarc_rua=list(posture.dmarc_rua),
        mx_hosts=list(posture.mx_hosts),
        problems=dns_problems(posture),
        warnings=dns_warnings(posture),
    )


class DomainOut(BaseModel):
    name: str
    plan: str
    step: int
    last_step: int
    status: str
    reason: str
    since: datetime | None
    held_by: str | None
    # Provider groups whose own gates stopped their traffic; the others keep sending.
    provider_holds: list[ProviderHoldOut]
    senders: list[str]
    # How its mail reaches ACS: "rest" (the Email REST API) or "smtp" (ACS's SMTP endpoint).
    transport: str
    authentication: AuthenticationOut | None
    dns: DnsPostureOut | None
    # DMARC aggregate reports of the last two weeks (`warmup dmarc import`); None: none.
    dmarc: DmarcSummaryOut | None
    # Gmail Postmaster Tools' last 30 days (`warmup postmaster pull`); None: none kept.
    postmaster: PostmasterOut | None
    caps: Caps
    cap_today: int
    sent_today: int
    left_today: int
    in_flight: int
    # Rows that processes which died or hung left, and how they were settled.
    recovery: RecoveryOut
    # Relayed messages' rows (warmup relay) waiting to go, ahead of the campaigns.
    relay_waiting: int
    acs_quota_per_minute: int
    acs_quota_per_hour: int
    health: Health
    sending: SendingOut


class DayOut(BaseModel):
    day: date
    planned: int
    sent: int
    reports: int
    failure_rate: float


class DomainDetail(DomainOut):
    history: list[DayOut]


class ChangeOut(BaseModel):
    changes: list[str]
    domain: DomainOut


def _authentication(record: DomainRecord) -> AuthenticationOut | None:
    found = record.authentication
    if found is None:
        return None
    return AuthenticationOut(
        management=found.management,
        states=dict(found.states),
        checked_at=found.checked_at,
        unverified=unauthenticated(found.states),
    )


def domain_out(
    view: DomainOverview,
    now_sending: SendingNow,
    recovery: RecoveryOut,
    dmarc: DmarcSummaryOut | None = None,
    postmaster: PostmasterOut | None = None,
) -> DomainOut:
    record, state, verdict = view.record, view.record.state, view.verdict
    step = record.plan.step(state.step)
    gates = record.plan.gates
    counts = verdict.counts
    return DomainOut(
        name=state.domain,
        plan=record.plan.name,
        step=state.step,
        last_step=record.plan.last_step,
        status=state.status.value,
        reason=state.reason,
        since=state.since,
        held_by=state.held_by,
        provider_holds=[
            ProviderHoldOut(
                provider=h.group.value,
                paused=h.paused,
                reason=h.reason,
                since=h.since,
                probe_per_hour=0 if h.paused else probe_per_hour(record.plan, record.caps, h.group),
            )
            for h in state.provider_holds
        ],
        senders=list(record.senders),
        transport=record.transport.value,
        authentication=_authentication(record),
        dns=dns_posture_out(record.dns_posture),
        dmarc=dmarc,
        postmaster=postmaster,
        caps=Caps(per_minute=step.per_minute, per_hour=step.per_hour, per_day=step.per_day),
        cap_today=view.cap_today,
        sent_today=view.sent_today,
        left_today=view.left_today,
        in_flight=view.in_flight,
        relay_waiting=view.relay_waiting,
        recovery=recovery,
        acs_quota_per_minute=record.quota.per_minute,
        acs_quota_per_hour=record.quota.per_hour,
        health=Health(
            level=verdict.level.name.lower(),
            reason=verdict.reason,
            reports=counts.total,
            failure_rate=round(counts.failure_rate, 6),
            hard_bounce_rate=round(counts.hard_bounce_rate, 6),
            complaint_rate=round(counts.complaint_rate, 6),
            hold_line=gates.failure_rate.hold,
            pause_line=gates.failure_rate.pause,
            window_hours=gates.window_hours,
        ),
        sending=SendingOut(
            now=now_sending.sending, reason=now_sending.reason, until=now_sending.until
        ),
    )


log = logging.getLogger(__name__)


def acs_throttle(limiter: Limiter | None) -> datetime | None:
    """The latest ACS Retry-After deadline the workers respect, if the limiter can be read."""
    if limiter is None:
        return None
    try:
        deadlines = limiter.throttled_until()
    except (redis.RedisError, OSError) as exc:  # a status page must not fail for it
        log.warning("could not read the ACS throttle from the limiter: %s", exc)
        return None
    return datetime.fromtimestamp(max(deadlines.values()), UTC) if deadlines else None


def domain_view(
    stores: Stores,
    record: DomainRecord,
    now: datetime,
    limiter: Limiter | None = None,
    budget: StatusBudget | None = None,
) -> DomainOut:
    """``budget``: the status-GET budget left, to say when rows in doubt will be settled."""
    view = overview(stores.database, stores.ledger, record, now)
    totals, in_doubt = domain_recovery(stores.database, record.id)
    return domain_out(
        view,
        sending(stores.ledger, view, now, acs_throttle(limiter)),
        recovery_out(totals, in_doubt, budget, now),
        dmarc_summary(stores.dmarc, record.state.domain, now.date()),
        postmaster_summary(stores.postmaster, record.plan.postmaster, record.state, now.date()),
    )


def domain_detail(
    stores: Stores,
    record: DomainRecord,
    now: datetime,
    limiter: Limiter | None = None,
    budget: StatusBudget | None = None,
) -> DomainDetail:
    """One domain with its volume per day over the ramp."""
    return DomainDetail(
        **domain_view(stores, record, now, limiter, budget).model_dump(),
        history=[
            DayOut(
                day=d.day,
                planned=d.planned,
                sent=d.sent,
                reports=d.reports,
                failure_rate=round(d.failure_rate, 6),
            )
            for d in history(stores.database, record, now)
        ],
    )


class SentDay(BaseModel):
    day: date
    sent: int


class QuotaRequest(BaseModel):
    """When to ask Microsoft for more quota, and for how much (after the plan's headroom)."""

    step: int
    per_minute: int | None
    per_hour: int
    needed_on: date
    ask_by: date  # three business days before: the review can take up to 72 hours


def quota_request(advice: QuotaAdvice | None) -> QuotaRequest | None:
    if advice is None:
        return None
    return QuotaRequest(
        step=advice.step,
        per_minute=advice.per_minute,
        per_hour=advice.per_hour,
        needed_on=advice.needed_on,
        ask_by=advice.ask_by,
    )


class DomainReportOut(BaseModel):
    domain: str
    days: list[SentDay]  # accepted sends per UTC day, last 30 days
    failure_rate_7_days: float
    failure_rate_30_days: float
    reports_7_days: int
    reports_30_days: int
    peak_day: int
    average_sending_day: float
    under_2_percent: bool
    under_1_percent: bool
    acs_quota_per_minute: int
    acs_quota_per_hour: int
    plan_needs_per_hour: int
    # The first step above today's quota; None if the quota covers the whole plan.
    quota_request: QuotaRequest | None
    # What the mailboxes say: Gmail Postmaster Tools' newest day, and DMARC alignment.
    postmaster_last: PostmasterDayOut | None
    dmarc: DmarcSummaryOut | None


def domain_report(stores: Stores, ready: Readiness, today: date) -> DomainReportOut:
    record = ready.record
    postmaster = postmaster_summary(stores.postmaster, record.plan.postmaster, record.state, today)
    return DomainReportOut(
        postmaster_last=postmaster.last if postmaster is not None else None,
        dmarc=dmarc_summary(stores.dmarc, record.state.domain, today),
        domain=record.state.domain,
        days=[SentDay(day=day, sent=sent) for day, sent in ready.days],
        failure_rate_7_days=round(ready.last_7.failure_rate, 6),
        failure_rate_30_days=round(ready.last_30.failure_rate, 6),
        reports_7_days=ready.last_7.reports,
        reports_30_days=ready.last_30.reports,
        peak_day=ready.peak_day,
        average_sending_day=round(ready.average_day, 1),
        under_2_percent=ready.under_2_percent,
        under_1_percent=ready.under_1_percent,
        acs_quota_per_minute=record.quota.per_minute,
        acs_quota_per_hour=record.quota.per_hour,
        plan_needs_per_hour=ready.target_per_hour,
        quota_request=quota_request(
            quota_advice(
                record.plan,
                step=record.state.step,
                healthy_days_at_step=record.state.healthy_days_at_step,
                today=today,
                per_minute=record.quota.per_minute,
                per_hour=record.quota.per_hour,
            )
        ),
    )
