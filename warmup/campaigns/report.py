"""A campaign's report: where every row stands, when it will finish, what it costs; the export."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import and_, distinct, func, select

from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.prune import archive_name
from warmup.control.state import Status
from warmup.csvsafe import SafeCsvWriter, open_output
from warmup.domains.store import DomainStore
from warmup.errors import NotFoundError, TransitionError
from warmup.ledger import counters
from warmup.ledger.states import OPEN, TERMINAL, LedgerState
from warmup.lists.importer import measure_of
from warmup.plans.schedule import cost, nth_sending_date, sending_days_needed
from warmup.store.database import Database
from warmup.store.models import (
    Campaign,
    ContactList,
    EngagementEvent,
    LedgerRow,
    SendingDomain,
)

PROGRESS_EVERY = 5000  # rows between progress calls of an export
EXPORT_COLUMNS = (
    "address",
    "state",
    "outcome",
    "outcome_detail",
    "message_id",
    "operation_id",
    "attempts",
    "last_error",
    "accepted_at",
    "outcome_at",
)


@dataclass(frozen=True)
class CampaignReport:
    campaign_id: int
    name: str
    status: CampaignStatus
    list_name: str
    domain: str
    rows: int  # ledger rows: none until the campaign starts
    list_recipients: int
    scheduled_at: datetime | None  # a draft that starts by itself then
    by_state: dict[str, int]
    by_outcome: dict[str, int]
    eta: date | None
    eta_note: str
    message_kb: float
    cost_total: float
    cost_so_far: float
    # Messages opened / clicked at least once (engagement-tracking events).
    opened: int = 0
    clicked: int = 0
    fill_total: int | None = None  # the list's size when the start began filling the ledger

    @property
    def delivered(self) -> int:
        return self.by_outcome.get("delivered", 0)

    @property
    def open_rate(self) -> float:
        """Of delivered. A weak signal: privacy features open every message for the reader."""
        return self.opened / self.delivered if self.delivered else 0.0

    @property
    def click_rate(self) -> float:
        return self.clicked / self.delivered if self.delivered else 0.0

    @property
    def sent(self) -> int:
        """Rows ACS accepted: suppressed, skipped and refused rows were not sent."""
        return self.by_state.get(LedgerState.ACCEPTED, 0)

    @property
    def remaining(self) -> int:
        return sum(self.by_state.get(state, 0) for state in OPEN)

    @property
    def verifying(self) -> int:
        """Rows in doubt: ACS is being asked whether it received them."""
        return self.by_state.get(LedgerState.VERIFYING, 0)

    @property
    def terminal(self) -> int:
        return sum(self.by_state.get(state, 0) for state in TERMINAL)

    @property
    def adds_up(self) -> bool:
        """accepted + failed + suppressed + skipped + still to send = rows."""
        return self.terminal + self.remaining == self.rows


def campaign_report(
    database: Database, domains: DomainStore, name: str, *, today: date, message_kb: float
) -> CampaignReport:
    with database.session() as session:
        campaign = session.scalar(select(Campaign).where(Campaign.name == name))
        if campaign is None:
            raise NotFoundError(f"no campaign {name!r}")
        list_name = (
            session.scalar(select(ContactList.name).where(ContactList.id == campaign.list_id))
            or "?"
        )
        domain = (
            session.scalar(select(SendingDomain.name).where(SendingDomain.id == campaign.domain_id))
            or "?"
        )
        # From the ledger's counters: a status of a 10-million-row campaign reads a few rows.
        by_state: dict[str, int] = {}
        by_outcome: dict[str, int] = {}
        for count in counters.counts(session, [campaign.id]):
            by_state[count.state] = by_state.get(count.state, 0) + count.rows
            if count.outcome is not None:
                by_outcome[count.outcome] = by_outcome.get(count.outcome, 0) + count.rows
        engaged = dict(
            session.execute(
                select(EngagementEvent.engagement, func.count(distinct(LedgerRow.id)))
                .join(
                    LedgerRow,
                    and_(
                        LedgerRow.message_id == EngagementEvent.message_id,
                        LedgerRow.address == EngagementEvent.recipient,
                    ),
                )
                .where(LedgerRow.campaign_id == campaign.id)
                .group_by(EngagementEvent.engagement)
            ).all()
        )
        list_recipients = measure_of(session.connection(), campaign.list_id).size
        running_on_domain = (
            session.scalar(
                select(func.count()).where(
                    Campaign.domain_id == campaign.domain_id,
                    Campaign.status == CampaignStatus.RUNNING.value,
                )
            )
            or 1
        )
    rows = sum(by_state.values())
    accepted = by_state.get(LedgerState.ACCEPTED, 0)
    sendable = rows - by_state.get(LedgerState.SUPPRESSED, 0) - by_state.get(LedgerState.SKIPPED, 0)
    remaining = sum(by_state.get(state, 0) for state in OPEN)
    eta, note = _eta(
        domains, domain, CampaignStatus(campaign.status), remaining, running_on_domain, today
    )
    if campaign.scheduled_at is not None and campaign.status == CampaignStatus.DRAFT.value:
        note = f"scheduled to start at {campaign.scheduled_at:%Y-%m-%d %H:%M} UTC"
    if campaign.status == CampaignStatus.STARTING.value:
        note = f"filling the ledger: {rows:,} of {campaign.fill_total or 0:,} recipients"
    return CampaignReport(
        campaign_id=campaign.id,
        name=name,
        status=CampaignStatus(campaign.status),
        list_name=list_name,
        domain=domain,
        rows=rows,
        list_recipients=list_recipients,
        scheduled_at=campaign.scheduled_at,
        by_state=by_state,
        by_outcome={str(outcome): n for outcome, n in by_outcome.items()},
        eta=eta,
        eta_note=note,
        message_kb=message_kb,
        cost_total=cost(sendable, message_kb),
        cost_so_far=cost(accepted, message_kb),
        opened=int(engaged.get("view", 0)),
        clicked=int(engaged.get("click", 0)),
        fill_total=campaign.fill_total,
    )


def _eta(
    domains: DomainStore,
    domain: str,
    status: CampaignStatus,
    remaining: int,
    share_with: int,
    today: date,
) -> tuple[date | None, str]:
    if status is CampaignStatus.DRAFT:
        return None, "not started"
    if remaining == 0:
        return None, "nothing left to send"
    if status is not CampaignStatus.RUNNING:
        return None, f"campaign is {status.value}"
    record = domains.get(domain)
    if record.state.status is Status.PAUSED:
        return None, f"domain paused: {record.state.reason}"
    days = sending_days_needed(
        record.plan,
        step=record.state.step,
        healthy_days_at_step=record.state.healthy_days_at_step,
        remaining=remaining,
        per_hour_ceiling=int(record.quota.per_hour * record.plan.quota.headroom),
        share=1 / share_with,
    )
    eta = nth_sending_date(record.plan, today, days)
    shared = (
        f", sharing the domain with {share_with - 1} other campaign(s)" if share_with > 1 else ""
    )
    return eta, f"{days} sending day(s) at the ramp's pace if every day is healthy{shared}"


def export_campaign(
    database: Database, name: str, path: Path, progress: Callable[[int], None] | None = None
) -> int:
    """Write one line per recipient with its state and outcome; return how many."""
    count = 0
    with database.session() as session:
        found = session.execute(
            select(Campaign.id, Campaign.pruned_at).where(Campaign.name == name)
        ).first()
        if found is None:
            raise NotFoundError(f"no campaign {name!r}")
        campaign_id, pruned_at = found
        if pruned_at is not None:
            # Its rows are gone from the ledger: an empty export would say it sent nothing.
            raise TransitionError(
                f"campaign {name!r} was pruned on {pruned_at:%Y-%m-%d}: its rows are in "
                f"{archive_name(name, campaign_id)}, in the folder `warmup db prune` wrote to"
            )
    with database.session() as session, open_output(path) as out:
        writer = SafeCsvWriter(out, EXPORT_COLUMNS)
        query = (
            select(*(getattr(LedgerRow, column) for column in EXPORT_COLUMNS))
            .where(LedgerRow.campaign_id == campaign_id)
            .order_by(LedgerRow.rank)
        )
        for row in session.execute(query).yield_per(5000):
            writer.row(value.isoformat() if isinstance(value, datetime) else value for value in row)
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
    return count
