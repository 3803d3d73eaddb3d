"""A campaign as the API and ``warmup campaign status|list --json`` show it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from warmup.campaigns.compose import variant_template
from warmup.campaigns.model import CampaignStatus, variant_labels
from warmup.campaigns.report import CampaignReport, campaign_report
from warmup.control.health import OutcomeCounts
from warmup.feedback.domain_health import window_counts
from warmup.ledger.recoveries import recovery_totals
from warmup.pipeline.outcome_poll import StatusBudget
from warmup.views.recovery import RecoveryOut, recovery_out
from warmup.wiring import Stores

MESSAGE_KB = 50.0  # for the cost estimate, as the CLI's default


SCHEDULED = "scheduled"


def shown_status(status: CampaignStatus, scheduled_at: datetime | None) -> str:
    """A draft with a start time reads ``scheduled``: it will start by itself."""
    if status is CampaignStatus.DRAFT and scheduled_at is not None:
        return SCHEDULED
    return status.value


class CampaignOut(BaseModel):
    name: str
    # draft, scheduled (a draft with a start time: scheduled_at), starting, running, paused,
    # completed, cancelled
    status: str
    list: str
    domain: str
    rows: int  # ledger rows: 0 until the campaign starts
    list_recipients: int  # on the campaign's list now
    scheduled_at: datetime | None  # a draft that starts by itself then
    sent: int  # accepted by ACS (suppressed, skipped and refused rows are not sent)
    settled: int  # rows whose fate is final: accepted, failed, suppressed or skipped
    remaining: int
    # Rows whose request may have reached ACS without an answer: ACS is being asked about them
    # before anything is sent again (part of ``remaining``).
    verifying: int
    progress: float  # settled / rows
    by_state: dict[str, int]
    by_outcome: dict[str, int]
    eta: date | None
    eta_note: str
    cost_so_far_usd: float
    cost_total_usd: float
    health: CampaignHealth
    engagement: EngagementOut
    ab_test: ABTestOut | None  # None: not an A/B campaign
    # Rows that processes which died or hung left, and how they were settled.
    recovery: RecoveryOut
    fill: FillOut | None = None  # while the campaign is starting: how far its ledger is filled


class FillOut(BaseModel):
    """A start fills the ledger in the background; the campaign sends once it is full."""

    rows: int  # written so far
    total: int  # the list's size when the start began
    progress: float  # rows / total


class EngagementOut(BaseModel):
    """Opens and clicks of the campaign's messages (engagement tracking on the domain)."""

    delivered: int
    opens: int  # messages opened at least once
    clicks: int  # messages clicked at least once
    open_rate: float  # of delivered
    click_rate: float  # of delivered
    note: str = (
        "opens are a weak signal: mailbox privacy features open messages for the reader; "
        "clicks count three times as much in the recipient's engagement"
    )


class VariantOut(BaseModel):
    label: str  # A is the campaign's own message
    subject: str
    sent: int
    delivered: int
    opens: int  # messages opened at least once
    clicks: int  # messages clicked at least once
    complaints: int
    open_rate: float  # of delivered
    click_rate: float  # of delivered


class ABTestOut(BaseModel):
    test_fraction: float  # of the list, sent first and split evenly between the variants
    wait_hours: float  # after the test's last send, before the winner is picked
    variants: list[VariantOut]
    winner: str | None
    decided_at: datetime | None
    reason: str | None  # the numbers the winner was picked on


class CampaignHealth(BaseModel):
    """The campaign's own outcomes over its domain's health window."""

    reports: int
    failure_rate: float
    hard_bounce_rate: float
    complaint_rate: float


def campaign_out(
    report: CampaignReport,
    counts: OutcomeCounts,
    recovery: RecoveryOut,
    ab_test: ABTestOut | None = None,
) -> CampaignOut:
    return CampaignOut(
        name=report.name,
        status=shown_status(report.status, report.scheduled_at),
        list=report.list_name,
        domain=report.domain,
        rows=report.rows,
        list_recipients=report.list_recipients,
        scheduled_at=report.scheduled_at,
        sent=report.sent,
        settled=report.terminal,
        remaining=report.remaining,
        verifying=report.verifying,
        progress=round(report.terminal / report.rows, 4) if report.rows else 0.0,
        by_state=report.by_state,
        by_outcome=report.by_outcome,
        eta=report.eta,
        eta_note=report.eta_note,
        cost_so_far_usd=round(report.cost_so_far, 4),
        cost_total_usd=round(report.cost_total, 4),
        health=CampaignHealth(
            reports=counts.total,
            failure_rate=round(counts.failure_rate, 6),
            hard_bounce_rate=round(counts.hard_bounce_rate, 6),
            complaint_rate=round(counts.complaint_rate, 6),
        ),
        engagement=EngagementOut(
            delivered=report.delivered,
            opens=report.opened,
            clicks=report.clicked,
            open_rate=round(report.open_rate, 6),
            click_rate=round(report.click_rate, 6),
        ),
        ab_test=ab_test,
        recovery=recovery,
        fill=(
            FillOut(
                rows=report.rows,
                total=report.fill_total or 0,
                progress=round(min(1.0, report.rows / report.fill_total), 4)
                if report.fill_total
                else 0.0,
            )
            if report.status is CampaignStatus.STARTING
            else None
        ),
    )


def campaign_view(
    stores: Stores,
    name: str,
    now: datetime,
    message_kb: float = MESSAGE_KB,
    budget: StatusBudget | None = None,
) -> CampaignOut:
    """``budget``: the status-GET budget left, to say when rows in doubt will be settled."""
    database = stores.database
    report = campaign_report(
        database, stores.domains, name, today=now.date(), message_kb=message_kb
    )
    record = stores.domains.get(report.domain)
    counts = window_counts(database, record, now, report.campaign_id)
    totals = recovery_totals(database, [report.campaign_id])
    recovery = recovery_out(totals, report.verifying, budget, now)
    return campaign_out(report, counts, recovery, ab_test_view(stores, report.campaign_id))


def ab_test_view(stores: Stores, campaign_id: int) -> ABTestOut | None:
    tests = stores.ab_tests
    campaign = tests.campaign(campaign_id)
    if not campaign.variants:
        return None
    subjects = {
        label: variant_template(campaign, label).subject for label in variant_labels(campaign)
    }
    return ABTestOut(
        test_fraction=campaign.test_fraction or 0.0,
        wait_hours=round((campaign.test_wait_seconds or 0) / 3600, 3),
        variants=[
            VariantOut(
                label=r.label,
                subject=subjects[r.label],
                sent=r.sent,
                delivered=r.delivered,
                opens=r.opens,
                clicks=r.clicks,
                complaints=r.complaints,
                open_rate=round(r.open_rate, 6),
                click_rate=round(r.click_rate, 6),
            )
            for r in tests.results(campaign)
        ],
        winner=campaign.winner,
        decided_at=campaign.winner_at,
        reason=tests.decision(campaign),
    )
