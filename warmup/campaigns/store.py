"""Campaigns in the store: create (with checks), start (fill the ledger), pause, resume, cancel.

Starting a campaign writes one ledger row per recipient of its list, in warm-up order (most
engaged first), each with its Operation-Id derived from (campaign, address); addresses on the
suppression list at that moment get a ``suppressed`` row, so the campaign's counts always add up
to the list's size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select, update

from warmup.campaigns.model import CampaignStatus, LedgerState, next_status, operation_id
from warmup.content.templates import CompiledTemplate, MessageTemplate
from warmup.control.providers import provider_group
from warmup.errors import ConfigError, ContentError, NotFoundError
from warmup.store.audit import audit_entry, audit_values
from warmup.store.database import Database
from warmup.store.domains import DomainStore
from warmup.store.models import (
    AuditEntry,
    Campaign,
    ContactList,
    LedgerRow,
    Recipient,
    SendingDomain,
    Suppression,
)

BATCH = 5000
Progress = Callable[[int], None]


@dataclass(frozen=True)
class EmptyFields:
    """Rows of the list with no value for a field the template uses."""

    field: str
    rows: int
    example_lines: tuple[int, ...]

    def __str__(self) -> str:
        lines = ", ".join(map(str, self.example_lines))
        more = ", …" if self.rows > len(self.example_lines) else ""
        return f"{self.field} is empty on {self.rows:,} rows (lines {lines}{more})"


def _audit(
    connection: Connection, campaign: str, action: str, actor: str, reason: str, at: datetime
) -> None:
    connection.execute(
        insert(AuditEntry).values(
            **audit_values("campaign", campaign, action, actor=actor, reason=reason, at=at)
        )
    )


class CampaignStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, name: str) -> Campaign:
        with self._db.session() as session:
            campaign = session.scalar(select(Campaign).where(Campaign.name == name))
            if campaign is None:
                raise NotFoundError(f"no campaign {name!r}")
            return campaign

    def list_of(self, campaign: Campaign) -> ContactList:
        with self._db.session() as session:
            found = session.get(ContactList, campaign.list_id)
            assert found is not None  # a foreign key
            return found

    def recipient(self, campaign: Campaign, address: str) -> Recipient:
        """One recipient of the campaign's list, by address (as typed: it is normalised)."""
        with self._db.session() as session:
            found = session.scalar(
                select(Recipient).where(
                    Recipient.list_id == campaign.list_id,
                    Recipient.address == address.strip().lower(),
                )
            )
            if found is None:
                raise NotFoundError(f"{address} is not on the list of campaign {campaign.name}")
            return found

    def create(
        self,
        name: str,
        *,
        list_name: str,
        sender: str,
        template: MessageTemplate,
        actor: str,
        at: datetime,
        reply_to: str | None = None,
        priority: int = 0,
    ) -> Campaign:
        """A draft campaign; refused now if its template cannot work with its list."""
        domain = DomainStore(self._db).domain_of_sender(sender)
        compiled = CompiledTemplate(template)
        with self._db.session() as session:
            contacts = session.scalar(select(ContactList).where(ContactList.name == list_name))
            if contacts is None:
                raise NotFoundError(f"no list {list_name!r} (import one with: warmup lists import)")
            compiled.check(set(contacts.fields))
            if session.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
                raise ConfigError(f"a campaign named {name!r} already exists")
            domain_id = session.scalar(
                select(SendingDomain.id).where(SendingDomain.name == domain.state.domain)
            )
            campaign = Campaign(
                name=name,
                list_id=contacts.id,
                domain_id=domain_id,
                sender_address=sender.strip().lower(),
                reply_to=reply_to,
                subject=template.subject,
                html=template.html,
                text=template.text,
                status=CampaignStatus.DRAFT.value,
                priority=priority,
                created_at=at,
                created_by=actor,
            )
            session.add(campaign)
            session.add(
                audit_entry(
                    "campaign",
                    name,
                    "create",
                    actor=actor,
                    at=at,
                    reason=f"list {list_name}, sender {sender}",
                )
            )
            return campaign

    def empty_fields(self, campaign: Campaign, examples: int = 5) -> list[EmptyFields]:
        """For each field the template uses, the rows that lack a value."""
        fields = CompiledTemplate(
            MessageTemplate(campaign.subject, campaign.html, campaign.text)
        ).fields
        found: list[EmptyFields] = []
        with self._db.session() as session:
            for field in sorted(fields):
                value = func.coalesce(Recipient.fields[field].as_string(), "")
                lacking = select(Recipient.source_line).where(
                    Recipient.list_id == campaign.list_id, value == ""
                )
                count = session.scalar(select(func.count()).select_from(lacking.subquery())) or 0
                if count:
                    lines = session.scalars(
                        lacking.order_by(Recipient.source_line).limit(examples)
                    ).all()
                    found.append(EmptyFields(field, count, tuple(line or 0 for line in lines)))
        return found

    def start(
        self,
        name: str,
        *,
        actor: str,
        at: datetime,
        allow_empty_fields: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """Fill the ledger and set the campaign running; return the number of rows."""
        campaign = self.get(name)
        next_status(CampaignStatus(campaign.status), "start", name)
        if not allow_empty_fields:
            empty = self.empty_fields(campaign)
            if empty:
                details = "; ".join(map(str, empty))
                raise ContentError(f"{details}. Fill them in, or start with --allow-empty-fields")
        with self._db.engine.begin() as connection:
            rows = self._fill_ledger(connection, campaign, at, progress)
            if rows == 0:
                raise ContentError(f"list of campaign {name} is empty")
            connection.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id)
                .values(status=CampaignStatus.RUNNING.value, started_at=at)
            )
            _audit(connection, name, "start", actor, f"{rows:,} recipients in the ledger", at)
        return rows

    def _fill_ledger(
        self, connection: Connection, campaign: Campaign, at: datetime, progress: Progress | None
    ) -> int:
        suppressed = set(
            connection.scalars(
                select(Suppression.address).where(
                    or_(Suppression.expires_at.is_(None), Suppression.expires_at > at)
                )
            )
        )
        ordered = (
            select(Recipient.id, Recipient.address)
            .where(Recipient.list_id == campaign.list_id)
            .order_by(
                Recipient.engagement.desc().nulls_last(),
                Recipient.last_engaged_at.desc().nulls_last(),
                Recipient.id,
            )
        )
        batch: list[dict[str, Any]] = []
        rank = 0
        for recipient_id, address in connection.execute(ordered).yield_per(BATCH):
            rank += 1
            state = LedgerState.SUPPRESSED if address in suppressed else LedgerState.PENDING
            batch.append(
                {
                    "campaign_id": campaign.id,
                    "recipient_id": recipient_id,
                    "address": address,
                    "provider": provider_group(address).value,
                    "rank": rank,
                    "state": state.value,
                    "operation_id": operation_id(campaign.id, address),
                    "attempts": 0,
                    "last_error": "suppressed when the campaign started"
                    if state is LedgerState.SUPPRESSED
                    else None,
                    "updated_at": at,
                }
            )
            if len(batch) >= BATCH:
                connection.execute(insert(LedgerRow), batch)
                batch.clear()
                if progress is not None:
                    progress(rank)
        if batch:
            connection.execute(insert(LedgerRow), batch)
        if progress is not None:
            progress(rank)
        return rank

    def change(
        self, name: str, action: str, *, actor: str, reason: str, at: datetime
    ) -> CampaignStatus:
        """pause, resume or cancel; cancelling skips every row not yet sent."""
        campaign = self.get(name)
        target = next_status(CampaignStatus(campaign.status), action, name)
        with self._db.engine.begin() as connection:
            written = connection.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id, Campaign.status == campaign.status)
                .values(
                    status=target.value,
                    finished_at=at if target is CampaignStatus.CANCELLED else None,
                )
            )
            if written.rowcount != 1:
                raise ConfigError(f"campaign {name} changed meanwhile; look again and retry")
            if target is CampaignStatus.CANCELLED:
                connection.execute(
                    update(LedgerRow)
                    .where(
                        LedgerRow.campaign_id == campaign.id,
                        LedgerRow.state.in_([LedgerState.PENDING.value, LedgerState.CLAIMED.value]),
                    )
                    .values(
                        state=LedgerState.SKIPPED.value,
                        last_error="campaign cancelled",
                        updated_at=at,
                        lease_owner=None,
                        lease_deadline=None,
                    )
                )
            _audit(connection, name, action, actor, reason, at)
        return target
