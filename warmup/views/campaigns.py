"""A campaign as the API and ``warmup campaign status|list --json`` show it."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel

from warmup.campaigns.report import CampaignReport, campaign_report
from warmup.control.health import OutcomeCounts
from warmup.domains.store import DomainStore
from warmup.feedback.domain_health import window_counts
from warmup.store.database import Database

MESSAGE_KB = 50.0  # for the cost estimate, as the CLI's default


class CampaignOut(BaseModel):
    name: str
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


class CampaignHealth(BaseModel):
    """The campaign's own outcomes over its domain's health window."""

    reports: int
    failure_rate: float
    hard_bounce_rate: float
    complaint_rate: float


def campaign_out(report: CampaignReport, counts: OutcomeCounts) -> CampaignOut:
    return CampaignOut(
        name=report.name,
        status=report.status.value,
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
    )


def campaign_view(
    database: Database, name: str, now: datetime, message_kb: float = MESSAGE_KB
) -> CampaignOut:
    report = campaign_report(database, name, today=now.date(), message_kb=message_kb)
    record = DomainStore(database).get(report.domain)
    return campaign_out(report, window_counts(database, record, now, report.campaign_id))
