"""``warmup campaign test``: the campaign's own message, rendered for one member of its list,
sent to whoever is testing it.

It goes out as the campaign's mail would: through the domain's transport, with a permit from
the limiter under the domain's caps (when the workers share one on Redis), so a test cannot
push the domain past its step. It is kept in the campaign's audit log and nowhere else: no
ledger row, no figure of the campaign counts it. Its unsubscribe links are inert, as a
preview's are: the tester's clicks unsubscribe nobody.
"""

from __future__ import annotations

import asyncio
import time

import typer

from warmup.campaigns.compose import Composer, unsubscriber_from
from warmup.campaigns.record import CampaignRecord
from warmup.campaigns.store import CampaignStore
from warmup.commands.context import actor, now
from warmup.commands.trial_send import rest_trial_send, run_smtp_trial_send
from warmup.content.unsubscribe import PreviewLinks
from warmup.control.providers import provider_group
from warmup.domains.record import DomainRecord
from warmup.errors import ConflictError, NotFoundError
from warmup.lists.catalog import Member, first_member
from warmup.pipeline.outcome_poll import quota_scope
from warmup.pipeline.send_limits import send_limits
from warmup.sending.transport import Transport
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.wiring import Stores, status_limiter


def send_campaign_test(
    settings: Settings,
    stores: Stores,
    name: str,
    *,
    to: str,
    as_member: str | None,
    variant: str | None,
    wait: bool,
    timeout: float,
) -> str:
    """Send it; return the final status (or "Accepted" without waiting)."""
    store = stores.campaigns
    campaign = store.get(name)
    member = _member(store, stores.database, campaign, as_member)
    record = stores.domains.domain_of_sender(campaign.sender_address)
    links = PreviewLinks.like(unsubscriber_from(settings))
    composer = Composer.for_campaign(campaign, links, variant)
    message, rendered = composer.compose(member.address, member.fields, deliver_to=to)
    _take_permit(settings, record, to)
    typer.echo(f"campaign {name}: its message for {member.address} ({rendered.subject!r}) to {to}")
    try:
        if record.transport is Transport.SMTP:
            status = run_smtp_trial_send(settings, message)
        else:
            status = asyncio.run(
                rest_trial_send(settings, message, to, campaign.sender_address, wait, timeout)
            )
    except Exception as exc:
        store.note_test_send(
            campaign, to=to, rendered_for=member.address, result=f"failed: {exc}",
            actor=actor(settings), at=now(),
        )  # fmt: skip
        raise
    store.note_test_send(
        campaign, to=to, rendered_for=member.address, result=status,
        actor=actor(settings), at=now(),
    )  # fmt: skip
    return status


def _member(
    store: CampaignStore, database: Database, campaign: CampaignRecord, address: str | None
) -> Member:
    if address is not None:
        return store.recipient(campaign, address)
    found = first_member(database, campaign.list_id)
    if found is None:
        raise NotFoundError(f"campaign {campaign.name}'s list has no members to render for")
    return found


def _take_permit(settings: Settings, record: DomainRecord, to: str) -> None:
    """One permit under the domain's caps and the ACS quota, as a campaign's send takes."""
    limiter = status_limiter(settings)
    if limiter is None:
        typer.echo("no WARMUP_REDIS_URL: the test is not counted against the domain's caps")
        return
    scope = quota_scope(settings)
    limits = send_limits(record, provider_group(to).value, scope, settings.limiter_margin_seconds)
    try:
        grant = limiter.acquire(limits, 1, time.time(), scope)
    finally:
        limiter.close()
    if not grant.granted:
        why = "ACS asked every worker to wait" if grant.throttled else "its caps are used up"
        raise ConflictError(
            f"domain {record.state.domain} has no room for a test send now ({why}); "
            f"try again in {max(1, round(grant.retry_after))} s"
        )
