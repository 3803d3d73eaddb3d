"""The system of record's tables (SQLAlchemy 2, typed declarative).

Schema changes go through Alembic migrations in ``warmup/store/migrations``; a test checks that
the migrations and these models agree.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Integer primary keys that are BIGINT on PostgreSQL and INTEGER (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass an aware one")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: UtcDateTime(),
    }


class SendingDomain(Base):
    __tablename__ = "sending_domains"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    plan_name: Mapped[str] = mapped_column(String(200))
    # The plan as applied, so every worker decides with the same one whatever files it has.
    plan_yaml: Mapped[str] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    since: Mapped[datetime | None]
    healthy_days_at_step: Mapped[int] = mapped_column(Integer, default=0)
    # The streak's days, ISO dates separated by commas (for the reason that names them).
    streak_days: Mapped[str | None] = mapped_column(String(400))
    troubled_at: Mapped[datetime | None]
    # Provider groups stopped by their own gates: a JSON list of {group, paused, reason, since}.
    provider_holds: Mapped[str | None] = mapped_column(Text)
    # Each gate's last hold and release: a JSON list of {gate, held_at, released_at,
    # judged_since} (warmup.control.state.GateMark).
    gate_marks: Mapped[str | None] = mapped_column(Text)
    sending_days: Mapped[int] = mapped_column(Integer, default=0)
    idle_days: Mapped[int] = mapped_column(Integer, default=0)
    held_by: Mapped[str | None] = mapped_column(String(200))
    health_since: Mapped[datetime | None]
    # The subscription's ACS quota today; ops raise it when Microsoft does.
    acs_per_minute: Mapped[int] = mapped_column(Integer)
    acs_per_hour: Mapped[int] = mapped_column(Integer)
    # The last local day (plan timezone, ISO date) whose boundary has been processed.
    day_closed: Mapped[str | None] = mapped_column(String(10))
    # How its mail reaches ACS: "rest" or "smtp" (warmup.sending.transport.Transport).
    transport: Mapped[str] = mapped_column(String(10), default="rest", server_default="rest")
    # The DNS records as ACS last verified them: JSON {"management": str, "states": {record:
    # status}} from `warmup acs domain check`; None: never checked.
    authentication: Mapped[str | None] = mapped_column(Text)
    authentication_checked_at: Mapped[datetime | None]
    # SPF, DMARC and MX as DNS last gave them (JSON with the time read: control.dns_posture).
    dns_posture: Mapped[str | None] = mapped_column(Text)
    # Optimistic concurrency: every write checks and bumps it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class SenderAddress(Base):
    __tablename__ = "sender_addresses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), unique=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    subject_type: Mapped[str] = mapped_column(String(40))  # domain, campaign, list, suppression
    subject: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ContactList(Base):
    __tablename__ = "contact_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    # Personalisation fields the list's rows carry (normalised column names).
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Kept as recipients are written (migration 0019), so a campaign start and a list's
    # summary need not read its rows: how many it holds, and how many of them carry a value
    # for each personalisation field (a field not named: none does). NULL: a list written
    # before 0019, measured from its rows the first time it is needed.
    size: Mapped[int | None] = mapped_column(BigInteger)
    filled: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # The languages its recipients read, for the pages they see (migration 0024): NULL, none
    # declared (every language warmup has pages in).
    languages: Mapped[list[str] | None] = mapped_column(JSON)


class Recipient(Base):
    __tablename__ = "recipients"
    __table_args__ = (
        UniqueConstraint("list_id", "address", name="uq_recipient_address"),
        Index("ix_recipient_engagement", "list_id", "engagement"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))  # normalised: lower case, IDNA domain
    # The address's mailbox-provider group (gmail, microsoft, yahoo, other), set at import.
    provider: Mapped[str | None] = mapped_column(String(20))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    engagement: Mapped[float | None] = mapped_column(Float)
    last_engaged_at: Mapped[datetime | None]
    source_line: Mapped[int | None] = mapped_column(Integer)


class Suppression(Base):
    __tablename__ = "suppressions"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))  # hard_bounce, complaint, unsubscribe, manual…
    source: Mapped[str] = mapped_column(String(200))  # event, import, link, ops user
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")


BULK_KIND = "bulk"  # a campaign: a list, a message, a ramp
RELAY_KIND = "relay"  # a domain's transactional stream of relayed SMTP messages
# campaigns.status values the ledger's reads need (they sit below the campaigns package, whose
# CampaignStatus takes them from here): a campaign being sent, and the two that are over.
RUNNING_STATUS = "running"
COMPLETED_STATUS = "completed"
CANCELLED_STATUS = "cancelled"
FINISHED_STATUSES = (COMPLETED_STATUS, CANCELLED_STATUS)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("contact_lists.id"))
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id"))
    sender_address: Mapped[str] = mapped_column(String(320))
    reply_to: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # "bulk" (a list, a template) or "relay" (a domain's transactional stream: what the SMTP
    # relay took from apps and devices; it never completes).
    kind: Mapped[str] = mapped_column(String(20), default="bulk", server_default=BULK_KIND)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # A draft with a time starts by itself then (the reconciler's tick), as if its scheduler
    # had run start, with the choice they made about empty template fields.
    scheduled_at: Mapped[datetime | None] = mapped_column(index=True)
    scheduled_by: Mapped[str | None] = mapped_column(String(200))
    schedule_allow_empty: Mapped[bool | None]
    # An A/B test: variants B, C, D beside the campaign's own message (A), each
    # {"label", "subject", "html", "text"} with what it changes; the share of the list that
    # tests them, the wait after the test's last send, and the winner once picked.
    variants: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    test_fraction: Mapped[float | None] = mapped_column(Float)
    test_wait_seconds: Mapped[int | None] = mapped_column(Integer)
    winner: Mapped[str | None] = mapped_column(String(1))
    winner_at: Mapped[datetime | None]
    # A start fills the ledger in chunks while the campaign is "starting": the list's size
    # then, and when a filler last wrote a chunk (a fill left behind by a crash is resumed).
    fill_total: Mapped[int | None] = mapped_column(BigInteger)
    fill_heartbeat: Mapped[datetime | None]
    # Its ledger rows were archived and deleted (warmup db prune); its counters stay.
    pruned_at: Mapped[datetime | None]


AWAITING_OUTCOME = "state = 'accepted' AND outcome IS NULL"
IN_DOUBT = "state IN ('sending', 'verifying')"


def _partial(name: str, *columns: str, where: str) -> Index:
    """An index of the rows ``where`` picks, alike on PostgreSQL and SQLite."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where))


def _set_only(name: str, *columns: str) -> Index:
    """An index of the rows whose last column is set. Every query that reads it filters that
    column with a strict operator (a range, an equality, a join), which implies it is set."""
    return _partial(name, *columns, where=f"{columns[-1]} IS NOT NULL")


class LedgerRow(Base):
    """One row per (campaign, normalised address): the record that prevents duplicate sends."""

    __tablename__ = "send_ledger"
    __table_args__ = (
        # relay_message_id is 0 on campaign rows: one row per address and campaign; a relayed
        # message has rows of its own (one address may get many messages through the relay).
        UniqueConstraint("campaign_id", "address", "relay_message_id", name="uq_ledger_address"),
        Index("ix_ledger_claim", "campaign_id", "state", "rank"),
        # Columns a row fills only later are indexed only where set (migration 0018): a new
        # row, and each update before it is sent, writes no entry in these.
        _set_only("ix_ledger_lease", "state", "lease_deadline"),
        _set_only("ix_send_ledger_message_id", "message_id"),
        # Rows whose request may be out (no lease once in doubt): the status GETs' queue,
        # oldest first, and the limiter's restore (the full lease index served both before).
        _partial("ix_ledger_in_doubt", "state", "updated_at", where=IN_DOUBT),
        # The trailing windows (minute, hour, the limiter's restore) read by time, and the
        # health window's ragged ends and a campaign's own window by campaign and time: index
        # ranges, flat in the size of the ledger (migration 0016).
        _set_only("ix_ledger_accepted_at", "accepted_at"),
        _set_only("ix_ledger_campaign_outcome_at", "campaign_id", "outcome_at"),
        # Accepted rows still waiting for their delivery report, oldest first: what status
        # polling reads each housekeeping tick, however large the ledger behind them.
        _partial("ix_ledger_awaiting_outcome", "accepted_at", where=AWAITING_OUTCOME),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # campaigns.id and recipients.id (None: a relayed message's row), without foreign keys
    # (migration 0020): checking them was a third of a campaign start's fill, and nothing
    # deletes either parent. Writers take them from the rows they read; `warmup db check`
    # proves them (warmup.ledger.references).
    campaign_id: Mapped[int] = mapped_column(BigId)
    recipient_id: Mapped[int | None] = mapped_column(BigId)
    address: Mapped[str] = mapped_column(String(320))
    provider: Mapped[str] = mapped_column(String(20))
    # The A/B variant the row is sent with (None: the campaign's own message, no test).
    variant: Mapped[str | None] = mapped_column(String(1))
    # The relayed message this row sends (relay_messages.id), 0 for a campaign's row.
    relay_message_id: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
    # Lower goes first: the most engaged recipients during warm-up.
    rank: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    # Random (uuid4), stored before any call; reused by every retry (DESIGN: invariant 1).
    # Not indexed (migration 0022): nothing reads by it, and a unique index cost a third of a
    # campaign start's fill to guard 122 random bits; `warmup db check` proves the ids distinct.
    operation_id: Mapped[str] = mapped_column(String(36))
    message_id: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_deadline: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))
    outcome_detail: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None]
    outcome_at: Mapped[datetime | None]
    # When the operation status was last polled (the fallback when delivery reports are late).
    status_checked_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class DeliveryEvent(Base):
    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Event Grid delivers at least once: the event id, or message id + recipient + status.
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    message_id: Mapped[str] = mapped_column(String(100), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]
    matched: Mapped[bool] = mapped_column(default=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Sent over SMTP: ACS's id of the message, which its opens and clicks name (message_id is
    # the row's key, from our Message-ID). NULL over REST, where the two are one (0025).
    acs_message_id: Mapped[str | None] = mapped_column(String(100), index=True)


class ApiToken(Base):
    """A bearer token for the HTTP API. Only its SHA-256 is kept; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # marketing, ops, admin
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The token's first characters, so people can tell tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None]


class ListImport(Base):
    """One upload's import, for following its progress and reading its report afterwards."""

    __tablename__ = "list_imports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # also names the report download
    list_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # running, done, failed
    bytes_total: Mapped[int] = mapped_column(BigInteger)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # The rejected rows as CSV, gzip-compressed: in the store, so that every API replica serves
    # the download. Loaded only when asked for (it may hold megabytes).
    rejected_rows: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class EngagementEvent(Base):
    """An open ("view") or a click ACS reported for one message and recipient."""

    __tablename__ = "engagement_events"
    __table_args__ = (
        Index("ix_engagement_message", "message_id", "recipient"),
        # Events whose points have not reached their recipient yet (their send was not
        # recorded when they came): what each feedback tick tries again (migration 0031).
        _partial("ix_engagement_uncredited", "received_at", where="credited_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Event Grid delivers at least once: message id + recipient + kind + time + context.
    dedupe_key: Mapped[str] = mapped_column(String(600), unique=True)
    message_id: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(320))
    engagement: Mapped[str] = mapped_column(String(20))  # view, click
    context: Mapped[str] = mapped_column(Text)  # a click's URL
    user_agent: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime]  # ACS's userActionTimestamp
    received_at: Mapped[datetime]
    # When its points were added to the recipient's engagement (None: not yet).
    credited_at: Mapped[datetime | None]


class DispatchFence(Base):
    """The newest dispatcher tick's fencing token per domain: an older tick may not claim."""

    __tablename__ = "dispatch_fences"

    domain_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fence: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class LeaseRecovery(Base):
    """What housekeeping made of one lapsed batch's ``sending`` rows (its process died or
    hung), read from the batch's wire journal: how many never left (back to pending), how many
    had their answer noted, how many were in doubt (asked at ACS; over SMTP taken as accepted).
    Shown by campaign and domain status, the API and /metrics."""

    __tablename__ = "lease_recoveries"
    __table_args__ = (Index("ix_lease_recoveries_campaign", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId)
    batch: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    unsent: Mapped[int]
    answered: Mapped[int]
    in_doubt: Mapped[int]
    journal_lost: Mapped[bool]


class RelayUser(Base):
    """Who may submit mail to the relay, for one domain; the password is stored hashed."""

    __tablename__ = "relay_users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id", ondelete="CASCADE"))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))


class RelayMessage(Base):
    """A message the relay accepted, as it came (its rows in the ledger send it)."""

    __tablename__ = "relay_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id", ondelete="CASCADE"))
    user_name: Mapped[str] = mapped_column(String(64))
    mail_from: Mapped[str] = mapped_column(String(320))
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime]


class FeedbackWatermark(Base):
    """How far a pulled feedback source (a Log Analytics workspace) has been read: the last
    row's TimeGenerated and _ItemId."""

    __tablename__ = "feedback_watermarks"

    source: Mapped[str] = mapped_column(String(300), primary_key=True)
    position_at: Mapped[datetime]
    position_item: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[datetime]


# Counters kept by database triggers as send_ledger rows change (migration 0016), so that
# /metrics, the dispatcher and campaign status never aggregate the ledger. On PostgreSQL the
# triggers only append to the *_deltas tables (no row is updated by two writers at once, so
# workers never wait on one another); warmup.ledger.counters folds them into the totals. On
# SQLite (one writer) the triggers update the totals directly and the deltas stay empty.


class LedgerCount(Base):
    """Rows (and ACS calls made for them) per campaign, state and outcome ('' for none)."""

    __tablename__ = "ledger_counts"

    campaign_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    state: Mapped[str] = mapped_column(String(20), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(BigInteger)
    # Of ``row_count`` and ``attempts``, rows since archived and deleted by ``warmup db
    # prune`` (migration 0021): a relay stream's settled rows leave while it runs on.
    archived: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    archived_attempts: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class LedgerCountDelta(Base):
    __tablename__ = "ledger_count_deltas"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    row_count: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(BigInteger)


class DomainSends(Base):
    """Rows ACS accepted per sending domain and quarter hour (``bucket``: its start, in Unix
    seconds). Every time zone's midnight falls on a quarter hour, so a day's sends are a sum
    of whole buckets."""

    __tablename__ = "domain_sends"

    domain_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    accepted: Mapped[int] = mapped_column(BigInteger)
    # Of ``accepted``, rows since archived and deleted by ``warmup db prune``: still sent.
    archived: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class DomainSendsDelta(Base):
    __tablename__ = "domain_send_deltas"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain_id: Mapped[int] = mapped_column(BigInteger)
    bucket: Mapped[int] = mapped_column(BigInteger)
    accepted: Mapped[int] = mapped_column(BigInteger)


class DomainOutcomes(Base):
    """Delivery outcomes per sending domain, recipient provider group and quarter hour of
    ``outcome_at``: the health window without reading the ledger (its two ragged ends aside)."""

    __tablename__ = "domain_outcomes"

    domain_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(20), primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger)
    # Of ``row_count``, rows since archived and deleted by ``warmup db prune``.
    archived: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class DomainOutcomesDelta(Base):
    __tablename__ = "domain_outcome_deltas"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain_id: Mapped[int] = mapped_column(BigInteger)
    bucket: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    row_count: Mapped[int] = mapped_column(BigInteger)


class DmarcReport(Base):
    """A DMARC aggregate report, kept once (warmup.feedback.dmarc_store)."""

    __tablename__ = "dmarc_reports"
    __table_args__ = (
        UniqueConstraint("org_name", "report_id", name="uq_dmarc_report"),
        Index("ix_dmarc_reports_day", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_name: Mapped[str] = mapped_column(String(200))  # the receiver that reported
    report_id: Mapped[str] = mapped_column(String(200))
    domain: Mapped[str] = mapped_column(String(253))  # the domain whose policy applied
    policy: Mapped[str] = mapped_column(String(20))  # the published p=
    begin_at: Mapped[datetime]
    end_at: Mapped[datetime]
    day: Mapped[date]  # the UTC day it covers
    imported_at: Mapped[datetime]


class DmarcSource(Base):
    """One source IP's mail in a DMARC aggregate report."""

    __tablename__ = "dmarc_sources"
    __table_args__ = (Index("ix_dmarc_sources_from", "header_from", "report_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("dmarc_reports.id", ondelete="CASCADE"), index=True
    )
    source_ip: Mapped[str] = mapped_column(String(45))
    messages: Mapped[int]
    header_from: Mapped[str] = mapped_column(String(253))
    spf_aligned: Mapped[bool]
    dkim_aligned: Mapped[bool]
    aligned: Mapped[bool]  # DMARC passed
    acs: Mapped[bool]  # signed with ACS's DKIM selectors
    disposition: Mapped[str] = mapped_column(String(20))


class PostmasterDayRow(Base):
    """One day of a domain's Gmail traffic from Postmaster Tools, kept once
    (warmup.feedback.postmaster_store)."""

    __tablename__ = "postmaster_days"
    __table_args__ = (UniqueConstraint("domain", "day", name="uq_postmaster_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253))
    day: Mapped[date]
    spam_ratio: Mapped[float | None]
    spam_lower: Mapped[float | None]
    spam_upper: Mapped[float | None]
    reputation: Mapped[str | None] = mapped_column(String(10))  # HIGH, MEDIUM, LOW, BAD
    spf_ratio: Mapped[float | None]
    dkim_ratio: Mapped[float | None]
    dmarc_ratio: Mapped[float | None]
    # [[error class, error type, ratio], ...] as Google names them.
    delivery_errors: Mapped[str | None] = mapped_column(Text)
    pulled_at: Mapped[datetime]
