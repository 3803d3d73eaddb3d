"""Campaigns in the store: create (with checks), start (fill the ledger), pause, resume, cancel.

This module alone writes ``campaigns``. A start sets the campaign ``starting``, then the ledger
(:mod:`warmup.ledger.fill`) is filled chunk by chunk, one transaction each; the last chunk sets
it ``running`` in its transaction, so a campaign never sends without all its rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select, update
from sqlalchemy.orm import Session

from warmup import audit
from warmup.addresses import InvalidAddress, address_key, domain_of, normalise_address
from warmup.audit import AuditFilter, AuditLog, AuditRecord
from warmup.campaigns.model import CampaignStatus, next_status, test_group
from warmup.campaigns.record import CampaignRecord, campaign_record
from warmup.campaigns.streams import RELAY
from warmup.content.hygiene import content_warnings, with_text_part
from warmup.content.templates import CompiledTemplate, MessageTemplate
from warmup.control.authentication import unauthenticated
from warmup.control.dns_posture import problems as dns_problems
from warmup.domains.store import DomainStore
from warmup.errors import ConflictError, ContentError, NotFoundError, TransitionError
from warmup.ledger import counters
from warmup.ledger import fill as ledger
from warmup.ledger.states import OPEN, LedgerState
from warmup.lists.catalog import Member, member
from warmup.lists.importer import measure_of
from warmup.lists.measures import ListMeasure, lines_lacking
from warmup.settings import FILL_CHUNK_ROWS
from warmup.store.database import Database
from warmup.store.models import (
    Campaign,
    ContactList,
    LedgerRow,
    SendingDomain,
)
from warmup.suppression.store import is_suppressed


@dataclass(frozen=True)
class Fill:
    """A start's fill: rows written so far of the list's ``total``; ``status`` is
    ``starting`` until the last chunk, then ``running`` (or whatever a person made it)."""

    name: str
    status: CampaignStatus
    done: int
    total: int


FillProgressHook = Callable[[Fill], None]
_ALL_STATES = tuple(state.value for state in LedgerState)


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


# What a campaign made from another (a retry's follow-up, a clone) takes over from it.
MESSAGE_COLUMNS = (
    "domain_id",
    "sender_address",
    "reply_to",
    "subject",
    "html",
    "text",
    "priority",
)


def refuse_taken_name(session: Session, name: str) -> None:
    """A campaign's name is its handle everywhere (CLI, API, audit): one campaign per name."""
    if session.scalar(select(Campaign.id).where(Campaign.name == name)) is not None:
        raise ConflictError(f"a campaign named {name!r} already exists")


def add_draft(
    session: Session, *, actor: str, at: datetime, reason: str, **columns: Any
) -> CampaignRecord:
    campaign = Campaign(
        **columns, status=CampaignStatus.DRAFT.value, created_at=at, created_by=actor
    )
    session.add(campaign)
    session.flush()  # its id and defaults, for its record
    audit.record(session, "campaign", campaign.name, "create", actor=actor, at=at, reason=reason)
    return campaign_record(campaign)


# A changed column as the user named it in the edit (the rest are named alike).
_EDITED_AS = {"sender_address": "sender", "list_id": "list"}


class CampaignStore:
    def __init__(
        self, database: Database, *, domains: DomainStore, fill_chunk_rows: int = FILL_CHUNK_ROWS
    ) -> None:
        self._db = database
        # The sending domains' owner, asked which domain a sender is on (built by warmup.wiring).
        self._domains = domains
        self._fill_chunk_rows = fill_chunk_rows

    def get(self, name: str) -> CampaignRecord:
        with self._db.session() as session:
            campaign = session.scalar(select(Campaign).where(Campaign.name == name))
            if campaign is None:
                raise NotFoundError(f"no campaign {name!r}")
            return campaign_record(campaign)

    def by_id(self, campaign_id: int) -> CampaignRecord:
        with self._db.session() as session:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None:
                raise NotFoundError(f"campaign {campaign_id} is gone")
            return campaign_record(campaign)

    def name_of(self, campaign_id: int) -> str:
        """A campaign's name by id (``#ID`` for one since deleted)."""
        with self._db.engine.connect() as connection:
            name = connection.scalar(select(Campaign.name).where(Campaign.id == campaign_id))
        return str(name) if name is not None else f"#{campaign_id}"

    def status_and_domain(self, campaign_id: int) -> tuple[CampaignStatus, int] | None:
        """A campaign's status and its domain's id (the workers' gate, every second or so)."""
        query = select(Campaign.status, Campaign.domain_id).where(Campaign.id == campaign_id)
        with self._db.engine.connect() as connection:
            row = connection.execute(query).first()
        return (CampaignStatus(row[0]), int(row[1])) if row is not None else None

    def names(self, status: CampaignStatus | None, limit: int) -> list[str]:
        """Campaign names, newest first (of one status, if given)."""
        query = select(Campaign.name).order_by(Campaign.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Campaign.status == status.value)
        with self._db.session() as session:
            return list(session.scalars(query))

    def recipient(self, campaign: CampaignRecord, address: str) -> Member:
        """One recipient of the campaign's list, by address (as typed: it is normalised)."""
        found = member(self._db, campaign.list_id, address_key(address))
        if found is None:
            raise NotFoundError(f"{address} is not on the list of campaign {campaign.name}")
        return found

    def audit(self, name: str, limit: int = 20) -> list[AuditRecord]:
        """The campaign's audit log, newest first (an override of the authentication gate
        with its reason, a test send, each change of status…)."""
        found = self.get(name).name
        return AuditLog(self._db).newest(AuditFilter(subject_type="campaign", subject=found), limit)

    def note_test_send(
        self, campaign: CampaignRecord, *, to: str, rendered_for: str, result: str, actor: str,
        at: datetime,
    ) -> None:  # fmt: skip
        """A test send of the campaign's message, kept in its audit log (its figures and ledger
        never see it)."""
        with self._db.session() as session:
            audit.record(
                session, "campaign", campaign.name, "test-send", actor=actor, at=at,
                reason=f"to {to}, rendered for {rendered_for}: {result}",
            )  # fmt: skip

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
    ) -> CampaignRecord:
        """A draft campaign; refused now if its template cannot work with its list."""
        with self._db.session() as session:
            message = self._checked(session, list_name, sender, template, reply_to)
            refuse_taken_name(session, name)
            return add_draft(
                session,
                actor=actor,
                at=at,
                reason=f"list {list_name}, sender {sender}",
                name=name,
                priority=priority,
                **message,
            )

    def edit(
        self,
        name: str,
        *,
        actor: str,
        at: datetime,
        list_name: str | None = None,
        sender: str | None = None,
        subject: str | None = None,
        html: str | None = None,
        text: str | None = None,
        reply_to: str | None = None,
        priority: int | None = None,
    ) -> list[str]:
        """Change a draft (scheduled or not); what is not given stays. Checked as at create:
        the template against the list, the sender against its domain. Returns what changed."""
        campaign = self.get(name)
        if campaign.status != CampaignStatus.DRAFT.value:
            raise TransitionError(
                f"campaign {name} is {campaign.status}; only a draft can be edited "
                "(clone it to change what is sent next)"
            )
        with self._db.session() as session:
            current_list = session.scalar(
                select(ContactList.name).where(ContactList.id == campaign.list_id)
            )
            template = MessageTemplate(
                subject if subject is not None else campaign.subject,
                html if html is not None else campaign.html,
                text if text is not None else campaign.text,
            )
            message = self._checked(
                session,
                list_name if list_name is not None else str(current_list),
                sender if sender is not None else campaign.sender_address,
                template,
                reply_to if reply_to is not None else campaign.reply_to,
            )
            if priority is not None:
                message["priority"] = priority
            changed = sorted(
                _EDITED_AS.get(k, k) for k, v in message.items() if getattr(campaign, k) != v
            )
            written = session.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.DRAFT.value)
                .values(**message)
            )
            if written.rowcount != 1:  # type: ignore[attr-defined]
                raise ConflictError(f"campaign {name} changed meanwhile; look again and retry")
            audit.record(
                session, "campaign", name, "edit", actor=actor, at=at,
                reason=f"changed: {', '.join(changed) or 'nothing'}",
            )  # fmt: skip
        return changed

    def _checked(
        self,
        session: Session,
        list_name: str,
        sender: str,
        template: MessageTemplate,
        reply_to: str | None,
    ) -> dict[str, Any]:
        """A draft's message columns, each checked: the reply-to an address, the sender on a
        domain, the template compiling and using only fields the list has."""
        if reply_to is not None:
            try:
                # Validated like every address: no CR/LF can reach a header through it.
                reply_to = normalise_address(reply_to)
            except InvalidAddress as exc:
                raise ContentError(f"reply-to {reply_to!r}: {exc}") from None
        domain = self._domains.domain_of_sender(sender)
        template, _ = with_text_part(template)
        compiled = CompiledTemplate(template)
        contacts = session.scalar(select(ContactList).where(ContactList.name == list_name))
        if contacts is None:
            raise NotFoundError(f"no list {list_name!r} (import one with: warmup lists import)")
        compiled.check(set(contacts.fields))
        domain_id = session.scalar(
            select(SendingDomain.id).where(SendingDomain.name == domain.state.domain)
        )
        return {
            "list_id": contacts.id,
            "domain_id": domain_id,
            "sender_address": address_key(sender),
            "reply_to": reply_to,
            "subject": template.subject,
            "html": template.html,
            "text": template.text,
        }

    def content_warnings(self, campaign: CampaignRecord) -> list[str]:
        """What to fix before sending (a missing visible unsubscribe link…); none blocks."""
        return content_warnings(MessageTemplate(campaign.subject, campaign.html, campaign.text))

    def empty_fields(self, campaign: CampaignRecord, examples: int = 5) -> list[EmptyFields]:
        """For each field the template uses, the rows that lack a value."""
        with self._db.engine.begin() as connection:
            return _empty_fields(
                connection, campaign, measure_of(connection, campaign.list_id), examples
            )

    def start(
        self,
        name: str,
        *,
        actor: str,
        at: datetime,
        allow_empty_fields: bool = False,
        progress: FillProgressHook | None = None,
        reason: str = "",
        auth_override: str | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> int:
        """Start a draft and fill its ledger to the end, here and now (the CLI, the schedule);
        a campaign already ``starting`` (its filler died) has its fill resumed. Return the
        number of rows. ``now``: the clock for the fill's heartbeats (default: ``at``)."""
        if self.get(name).status != CampaignStatus.STARTING.value:
            try:
                self.begin_start(
                    name,
                    actor=actor,
                    at=at,
                    allow_empty_fields=allow_empty_fields,
                    reason=reason,
                    auth_override=auth_override,
                )
            except TransitionError:
                # Another start set it starting since the read above: this one takes part in
                # that fill, as it would have had it read ``starting`` (chunks take turns).
                if self.get(name).status != CampaignStatus.STARTING.value:
                    raise
        return self.fill(name, now or (lambda: at), progress).done

    def begin_start(
        self,
        name: str,
        *,
        actor: str,
        at: datetime,
        allow_empty_fields: bool = False,
        reason: str = "",
        auth_override: str | None = None,
        filler: bool = True,
    ) -> Fill:
        """Check a draft and set it ``starting``: quick whatever the list's size. The ledger is
        then filled by :meth:`fill` (a background job behind the API); nothing is sent before
        the fill is complete. ``filler``: the caller fills it now; if not (the schedule),
        housekeeping finds it in :meth:`claim_stalled_fills` at once.

        Refused on a domain whose SPF, DKIM or DMARC ACS last found not verified, unless
        ``auth_override`` gives ops' reason (kept in the audit log)."""
        campaign = self.get(name)
        next_status(CampaignStatus(campaign.status), "start", name)
        unverified = self.unauthenticated(campaign)
        with self._db.engine.begin() as connection:
            # The list's kept figures: the checks and the fill's size read none of its rows.
            measure = measure_of(connection, campaign.list_id)
            if not allow_empty_fields:
                _refuse_empty_fields(_empty_fields(connection, campaign, measure))
            if unverified and not (auth_override or "").strip():
                domain = domain_of(campaign.sender_address)
                raise ContentError(
                    f"domain {domain} is not ready for bulk mail: {'; '.join(unverified)}. "
                    "Gmail and Yahoo refuse unauthenticated bulk mail: fix the DNS records and "
                    f"run `warmup acs domain check {domain}`, or start with --override-auth REASON"
                )
            size = measure.size
            if size == 0:
                raise ContentError(f"list of campaign {name} is empty")
            # Claim the draft first: a second start at the same moment (a person and the
            # schedule, two reconcilers) waits on this row and then finds it no longer a draft.
            claimed = connection.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.DRAFT.value)
                .values(
                    status=CampaignStatus.STARTING.value,
                    started_at=at,
                    scheduled_at=None,
                    fill_total=size,
                    fill_heartbeat=at if filler else None,
                )
            )
            if claimed.rowcount != 1:
                raise TransitionError(f"campaign {name} was started meanwhile")
            audit.record(
                connection,
                "campaign",
                name,
                "start",
                actor=actor,
                reason=f"{size:,} recipients to put in the ledger{reason}",
                at=at,
            )
            if unverified:
                audit.record(
                    connection,
                    "campaign",
                    name,
                    "override-authentication",
                    actor=actor,
                    reason=f"{auth_override} (started with {', '.join(unverified)})",
                    at=at,
                )
        return Fill(name, CampaignStatus.STARTING, 0, size)

    def fill_step(self, name: str, at: datetime) -> Fill:
        """Write the next chunk of a ``starting`` campaign's ledger, in one transaction; the
        last chunk sets it running. A crash loses at most the chunk being written; any filler
        may go on from there. A campaign no longer ``starting`` (cancelled) is left alone."""
        campaign = self.get(name)
        with self._db.engine.begin() as connection:
            # Also the lock that keeps two fillers (a resumed one, a late one) one at a time.
            alive = connection.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id, Campaign.status == CampaignStatus.STARTING.value)
                .values(fill_heartbeat=at)
            )
            if alive.rowcount != 1:
                return self.fill_state(name)
            written = ledger.fill_chunk(
                connection,
                campaign.id,
                campaign.list_id,
                suppressed=lambda address: is_suppressed(address, at),
                at=at,
                limit=self._fill_chunk_rows,
                test=test_group(campaign, campaign.fill_total or 0),
            )
            if written < self._fill_chunk_rows:
                done = counters.rows_in(connection, [campaign.id], _ALL_STATES)
                connection.execute(
                    update(Campaign)
                    .where(Campaign.id == campaign.id)
                    .values(status=CampaignStatus.RUNNING.value, fill_heartbeat=None)
                )
                audit.record(
                    connection,
                    "campaign",
                    name,
                    "filled",
                    actor="system",
                    reason=f"{done:,} recipients in the ledger; sending",
                    at=at,
                )
        return self.fill_state(name)

    def fill(
        self, name: str, now: Callable[[], datetime], progress: FillProgressHook | None = None
    ) -> Fill:
        """Fill a ``starting`` campaign's ledger chunk after chunk until it runs (or is
        cancelled meanwhile)."""
        state = self.fill_state(name)
        while state.status is CampaignStatus.STARTING:
            state = self.fill_step(name, now())
            if progress is not None:
                progress(state)
        return state

    def fill_state(self, name: str) -> Fill:
        """How far a campaign's ledger is filled (its rows now, its list's size at start)."""
        campaign = self.get(name)
        with self._db.session() as session:
            done = counters.rows_in(session, [campaign.id], _ALL_STATES)
        return Fill(name, CampaignStatus(campaign.status), done, campaign.fill_total or done)

    def claim_stalled_fills(self, now: datetime, after: timedelta) -> list[str]:
        """Campaigns ``starting`` with no filler: none yet (started by the schedule), or one
        that wrote nothing for ``after`` (an API process restarted, a worker killed). Each is
        handed to the caller once: its heartbeat is set to ``now``, so the next call within
        ``after`` does not hand it out again."""
        stalled = or_(Campaign.fill_heartbeat.is_(None), Campaign.fill_heartbeat < now - after)
        with self._db.session() as session:
            names = list(
                session.scalars(
                    select(Campaign.name)
                    .where(Campaign.status == CampaignStatus.STARTING.value, stalled)
                    .order_by(Campaign.id)
                )
            )
            if names:
                session.execute(
                    update(Campaign)
                    .where(
                        Campaign.name.in_(names),
                        Campaign.status == CampaignStatus.STARTING.value,
                        stalled,
                    )
                    .values(fill_heartbeat=now)
                )
        return names

    def unauthenticated(self, campaign: CampaignRecord) -> list[str]:
        """What stops the campaign's domain authenticating bulk mail: the SPF, DKIM or DMARC
        records ACS last found not verified, and the problems its DNS last showed (SPF over
        ten lookups, no DMARC record). Empty when none, or never checked."""
        record = self._domains.domain_of_sender(campaign.sender_address)
        found = []
        if record.authentication is not None:
            found += [
                f"{name} not verified by ACS"
                for name in unauthenticated(record.authentication.states)
            ]
        if record.dns_posture is not None:
            found += dns_problems(record.dns_posture)
        return found

    def check_startable(self, campaign: CampaignRecord, allow_empty_fields: bool) -> None:
        if not allow_empty_fields:
            _refuse_empty_fields(self.empty_fields(campaign))

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
                raise ConflictError(f"campaign {name} changed meanwhile; look again and retry")
            if target is CampaignStatus.CANCELLED:
                ledger.skip_unsent(connection, campaign.id, reason="campaign cancelled", at=at)
            audit.record(connection, "campaign", name, action, actor=actor, reason=reason, at=at)
        return target

    def finish_campaigns(self, at: datetime) -> list[str]:
        """Mark running campaigns with nothing left to send as completed; return their names."""
        open_rows = (
            select(LedgerRow.id)
            .where(
                LedgerRow.campaign_id == Campaign.id, LedgerRow.state.in_([s.value for s in OPEN])
            )
            .exists()
        )
        finished: list[str] = []
        with self._db.session() as session:
            for campaign in session.scalars(
                select(Campaign).where(
                    Campaign.status == CampaignStatus.RUNNING.value,
                    Campaign.kind != RELAY,  # a transactional stream never completes
                    ~open_rows,
                )
            ):
                campaign.status = CampaignStatus.COMPLETED.value
                campaign.finished_at = at
                audit.record(
                    session,
                    "campaign",
                    campaign.name,
                    "complete",
                    actor="system",
                    at=at,
                    reason="every recipient has a final state",
                )
                finished.append(campaign.name)
        return finished


def _empty_fields(
    connection: Connection, campaign: CampaignRecord, measure: ListMeasure, examples: int = 5
) -> list[EmptyFields]:
    """The template's fields some rows lack, from the list's kept figures; the few example
    lines are read only for a field that has gaps."""
    template = MessageTemplate(campaign.subject, campaign.html, campaign.text)
    return [
        EmptyFields(
            name,
            measure.lacking(name),
            tuple(lines_lacking(connection, campaign.list_id, name, examples)),
        )
        for name in sorted(CompiledTemplate(template).fields)
        if measure.lacking(name)
    ]


def _refuse_empty_fields(empty: list[EmptyFields]) -> None:
    if empty:
        details = "; ".join(map(str, empty))
        raise ContentError(f"{details}. Fill them in, or start with --allow-empty-fields")
