"""The ledger's one window onto the tables it reads but does not own.

A ledger row names its campaign and its recipient and keeps nothing else of them: its domain,
its campaign's status and kind, its recipient's fields all live with their owners. The
ledger's queries need them (figures per domain, a cancelled campaign's rows, a batch's
fields, the fill), and the ledger sits below ``campaigns`` and ``lists``, so it cannot ask
them. Every such read goes through this module instead, and only through it
(``tests/architecture.py``: the ledger's READERS entry): a change to ``campaigns``,
``sending_domains`` or ``recipients`` touches one module of the ledger, not eight.

Most functions add one join or one condition to a query the caller builds, so a hot query is
still one statement with its own index conditions (``tests/integration/test_hot_queries.py``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Exists, ScalarSelect, Select, Subquery, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from warmup.sending.transport import Transport
from warmup.store.models import FINISHED_STATUSES, Campaign, LedgerRow, Recipient, SendingDomain

Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])
CampaignId = ColumnElement[int] | InstrumentedAttribute[int]

# A row's domain id and its domain's name, in a query passed through through_campaign (and,
# for the name, through_domain).
DOMAIN_ID: InstrumentedAttribute[int] = Campaign.domain_id
DOMAIN_NAME: InstrumentedAttribute[str] = SendingDomain.name
# A batch row's recipient fields, in a query passed through with_recipient.
RECIPIENT_FIELDS: InstrumentedAttribute[dict[str, Any]] = Recipient.fields


def through_campaign(query: Query, campaign_id: CampaignId = LedgerRow.campaign_id) -> Query:
    """The query joined to the campaign each row names (for :data:`DOMAIN_ID`)."""
    return query.join(Campaign, Campaign.id == campaign_id)


def through_domain(query: Query, campaign_id: CampaignId = LedgerRow.campaign_id) -> Query:
    """The query joined to each row's campaign and its domain (for :data:`DOMAIN_NAME`)."""
    return through_campaign(query, campaign_id).join(
        SendingDomain, SendingDomain.id == Campaign.domain_id
    )


def in_domain(
    query: Query, domain_id: int, campaign_id: CampaignId = LedgerRow.campaign_id
) -> Query:
    """The query's rows narrowed to the campaigns of one domain."""
    return through_campaign(query, campaign_id).where(Campaign.domain_id == domain_id)


def with_recipient(query: Query) -> Query:
    """The query joined to each row's recipient, if it has one (for :data:`RECIPIENT_FIELDS`;
    a relayed message's row has none)."""
    return query.outerjoin(Recipient, Recipient.id == LedgerRow.recipient_id)


def domain_of(campaign_id: int) -> ScalarSelect[int]:
    """The campaign's domain id, as part of a statement."""
    return select(Campaign.domain_id).where(Campaign.id == campaign_id).scalar_subquery()


def campaign_cancelled(campaign_id: CampaignId = LedgerRow.campaign_id) -> Exists:
    """Whether the row's campaign was cancelled."""
    return (
        select(Campaign.id).where(Campaign.id == campaign_id, Campaign.status == "cancelled")
    ).exists()


def sent_over_smtp(campaign_id: CampaignId = LedgerRow.campaign_id) -> Exists:
    """Whether the row's domain sends over SMTP (which cannot be asked what it received)."""
    return (
        select(Campaign.id)
        .join(SendingDomain, SendingDomain.id == Campaign.domain_id)
        .where(Campaign.id == campaign_id, SendingDomain.transport == Transport.SMTP.value)
    ).exists()


def unpruned_campaigns() -> Select[int]:
    """The campaigns whose rows are still in the ledger (not archived by a prune)."""
    return select(Campaign.id).where(Campaign.pruned_at.is_(None))


def unfinished_campaigns(session: Session) -> list[int]:
    """The campaigns not over: the only ones that can hold rows still waiting (a handful)."""
    return list(
        session.scalars(select(Campaign.id).where(Campaign.status.not_in(FINISHED_STATUSES)))
    )


def campaign_domains(session: Session) -> dict[int, tuple[str, str]]:
    """Each campaign's (domain name, kind): a few thousand rows at most."""
    query = select(Campaign.id, SendingDomain.name, Campaign.kind).join(
        SendingDomain, SendingDomain.id == Campaign.domain_id
    )
    return {int(id_): (str(name), str(kind)) for id_, name, kind in session.execute(query)}


def missing_campaign() -> ColumnElement[bool]:
    """The row names a campaign that does not exist."""
    return ~select(Campaign.id).where(Campaign.id == LedgerRow.campaign_id).exists()


def missing_recipient() -> ColumnElement[bool]:
    """The row names a recipient that does not exist."""
    return LedgerRow.recipient_id.is_not(None) & ~(
        select(Recipient.id).where(Recipient.id == LedgerRow.recipient_id).exists()
    )


def next_members(list_id: int, campaign_id: int, limit: int) -> Subquery:
    """The list's next ``limit`` members not yet in the campaign's ledger, most engaged first
    (a top-N sort: a chunk left half-done, or an engagement that moved meanwhile, can neither
    skip nor repeat anyone). Columns: id, address, provider, engagement, last_engaged_at."""
    already = (
        select(LedgerRow.id)
        .where(
            LedgerRow.campaign_id == campaign_id,
            LedgerRow.address == Recipient.address,
            LedgerRow.relay_message_id == 0,
        )
        .exists()
    )
    return (
        select(
            Recipient.id,
            Recipient.address,
            Recipient.provider,
            Recipient.engagement,
            Recipient.last_engaged_at,
        )
        .where(Recipient.list_id == list_id, ~already)
        .order_by(
            Recipient.engagement.desc().nulls_last(),
            Recipient.last_engaged_at.desc().nulls_last(),
            Recipient.id,
        )
        .limit(limit)
        .subquery()
    )
