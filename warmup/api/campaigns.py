"""``/api/campaigns``: marketing creates, previews, starts, pauses, resumes, cancels, exports.

Every role may read a campaign's status (the dashboard shows them all); changing one takes the
marketing role. The export holds recipients' addresses, so it also takes marketing.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.responses import FileResponse
from pydantic import AliasChoices, BaseModel, Field
from starlette.background import BackgroundTask

from warmup.api.auth import Caller, Marketing, insist
from warmup.api.bodies import Body
from warmup.api.services import Found, Services
from warmup.campaigns.compose import Composer, unsubscriber_from
from warmup.campaigns.drafts import clone, delete_draft
from warmup.campaigns.model import CampaignStatus, retry_outcomes
from warmup.campaigns.report import export_campaign
from warmup.campaigns.store import CampaignStore
from warmup.content.templates import MessageTemplate
from warmup.content.unsubscribe import PreviewLinks
from warmup.tokens import Role
from warmup.views.campaigns import CampaignOut, campaign_view

log = logging.getLogger("warmup.api.campaigns")

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
Text = Annotated[str, Field(max_length=1_000_000)]


class CampaignIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    list: Annotated[str, Field(min_length=1, max_length=200)]
    # The CLI's word (--from) is taken too.
    sender: Annotated[
        str,
        Field(min_length=3, max_length=320, validation_alias=AliasChoices("sender", "from")),
    ]
    subject: Annotated[str, Field(min_length=1, max_length=2000)]
    html: Text | None = None
    text: Text | None = None
    reply_to: Annotated[str, Field(max_length=320)] | None = None
    priority: Annotated[int, Field(ge=-1000, le=1000)] = 0


class Reason(Body):
    reason: Annotated[str, Field(max_length=2000)] = ""


class StartIn(Body):
    allow_empty_fields: bool = False
    # Start although ACS found the domain's SPF, DKIM or DMARC not verified: ops' reason.
    override_auth: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class CreatedOut(BaseModel):
    campaign: CampaignOut
    warnings: list[str]


class PreviewOut(BaseModel):
    sender: str
    to: str
    reply_to: str | None
    headers: dict[str, str]
    subject: str
    text: str | None
    html: str | None
    size_bytes: int
    warnings: list[str]  # what to fix before sending, e.g. no visible unsubscribe link


def _report(found: Services, name: str) -> CampaignOut:
    now = found.clock.now()
    return campaign_view(found.stores, name, now, budget=found.status_budget(now))


@router.get("")
def all_campaigns(
    _: Caller,
    found: Found,
    status: CampaignStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[CampaignOut]:
    """Campaigns with their progress and ETA, newest first (of one status, if given)."""
    names = found.stores.campaigns.names(status, limit)
    return [_report(found, name) for name in names]


@router.post("", status_code=201)
def create(body: CampaignIn, who: Marketing, found: Found) -> CreatedOut:
    """A draft; its template is checked against the list now."""
    store = found.stores.campaigns
    campaign = store.create(
        body.name,
        list_name=body.list,
        sender=body.sender,
        template=MessageTemplate(body.subject, body.html, body.text),
        actor=who.actor,
        at=found.clock.now(),
        reply_to=body.reply_to,
        priority=body.priority,
    )
    warnings = [
        f"{gap}; start refuses unless allow_empty_fields" for gap in store.empty_fields(campaign)
    ] + store.content_warnings(campaign)
    if body.text is None and body.html is not None:
        warnings.append("no text body given: one was made from the HTML (see the preview)")
    return CreatedOut(campaign=_report(found, body.name), warnings=warnings)


class CampaignEdit(Body):
    """What to change in a draft; a field not given stays."""

    list: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    # The alias sits on the whole field: inside the union pydantic would ignore it.
    sender: Annotated[
        Annotated[str, Field(min_length=3, max_length=320)] | None,
        Field(validation_alias=AliasChoices("sender", "from")),
    ] = None
    subject: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    html: Text | None = None
    text: Text | None = None
    reply_to: Annotated[str, Field(max_length=320)] | None = None
    priority: Annotated[int, Field(ge=-1000, le=1000)] | None = None


class EditedOut(BaseModel):
    changed: list[str]
    campaign: CampaignOut


@router.patch("/{name}")
def edit(name: str, body: CampaignEdit, who: Marketing, found: Found) -> EditedOut:
    """Change a draft (scheduled or not): checked as at create; 409 once it started."""
    changed = found.stores.campaigns.edit(
        name,
        actor=who.actor,
        at=found.clock.now(),
        list_name=body.list,
        sender=body.sender,
        subject=body.subject,
        html=body.html,
        text=body.text,
        reply_to=body.reply_to,
        priority=body.priority,
    )
    return EditedOut(changed=changed, campaign=_report(found, name))


@router.get("/{name}")
def status(name: str, _: Caller, found: Found) -> CampaignOut:
    return _report(found, name)


@router.get("/{name}/preview")
def preview(
    name: str,
    to: Annotated[str, Query(min_length=3, max_length=320, description="A recipient of the list.")],
    _: Caller,
    found: Found,
    variant: Annotated[str | None, Query(pattern="^[A-D]$")] = None,
) -> PreviewOut:
    """The exact message one recipient would get, headers included (an A/B variant's, with
    ``variant``)."""
    store = found.stores.campaigns
    campaign = store.get(name)
    recipient = store.recipient(campaign, to)
    # Inert links (/u/preview): the preview shows the message, it hands out no working link.
    links = PreviewLinks.like(unsubscriber_from(found.settings))
    composer = Composer.for_campaign(campaign, links, variant)
    message, rendered = composer.compose(recipient.address, recipient.fields)
    return PreviewOut(
        sender=message["senderAddress"],
        to=recipient.address,
        reply_to=campaign.reply_to,
        headers=message.get("headers", {}),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        size_bytes=rendered.size_bytes,
        warnings=store.content_warnings(campaign),
    )


@router.post("/{name}/start", status_code=202)
def start(
    name: str,
    who: Caller,
    found: Found,
    background: BackgroundTasks,
    body: StartIn | None = None,
) -> CampaignOut:
    """Start a draft: it is checked now (422 if it cannot start), set ``starting``, and its
    send ledger is filled in the background, most engaged first (202). Follow ``fill`` in
    ``GET /api/campaigns/{name}``; the campaign sends once it is ``running``. A fill cut short
    (the API restarted) is resumed by the workers' housekeeping."""
    unsubscriber_from(found.settings)  # refuse now, not at the first send
    if body is not None and body.override_auth is not None:
        # Sending from a domain whose SPF/DKIM/DMARC ACS has not verified risks its reputation
        # (docs/azure.md): the override is ops' decision (or admin's), audited with its reason.
        insist(who, Role.OPS, "overriding the SPF/DKIM/DMARC gate")
    else:
        insist(who, Role.MARKETING, "starting a campaign")
    store = found.stores.campaigns
    store.begin_start(
        name,
        actor=who.actor,
        at=found.clock.now(),
        allow_empty_fields=body.allow_empty_fields if body else False,
        auth_override=body.override_auth if body else None,
    )
    background.add_task(_fill, store, name, found)
    return _report(found, name)


def _fill(store: CampaignStore, name: str, found: Services) -> None:
    try:
        store.fill(name, found.clock.now)
    except Exception:  # the campaign stays starting; housekeeping resumes it
        log.exception("filling the ledger of campaign %s stopped", name)


class ScheduleIn(Body):
    # ISO 8601; without an offset, in ``tz`` (default: the domain's plan's timezone).
    at: Annotated[str, Field(min_length=10, max_length=40, examples=["2026-12-01 09:00"])]
    tz: Annotated[str, Field(max_length=64, examples=["Europe/Paris"])] | None = None
    allow_empty_fields: bool = False


@router.post("/{name}/schedule")
def schedule(name: str, body: ScheduleIn, who: Marketing, found: Found) -> CampaignOut:
    """Start a draft by itself at a time; what would stop the start is refused now (422)."""
    unsubscriber_from(found.settings)  # refuse now, not at the start
    planner = found.stores.schedule
    planner.schedule(
        name,
        start_at=planner.start_time(name, body.at, body.tz),
        allow_empty_fields=body.allow_empty_fields,
        actor=who.actor,
        at=found.clock.now(),
    )
    return _report(found, name)


@router.delete("/{name}/schedule")
def unschedule(name: str, who: Marketing, found: Found) -> CampaignOut:
    """Take a draft's start time away (it stays a draft)."""
    found.stores.schedule.unschedule(name, actor=who.actor, at=found.clock.now())
    return _report(found, name)


class VariantIn(Body):
    subject: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    html: Text | None = None
    text: Text | None = None
    test_fraction: Annotated[float, Field(gt=0, le=0.5)] | None = None  # default 0.2
    wait_hours: Annotated[float, Field(ge=0, le=24 * 14)] | None = None  # default 4


class VariantAdded(BaseModel):
    variant: str
    warnings: list[str]
    campaign: CampaignOut


@router.post("/{name}/variants", status_code=201)
def add_variant(name: str, body: VariantIn, who: Marketing, found: Found) -> VariantAdded:
    """Add an A/B variant (B, C, D) to a draft: a subject, a body, or both."""
    added, warnings = found.stores.ab_tests.add_variant(
        name,
        subject=body.subject,
        html=body.html,
        text=body.text,
        fraction=body.test_fraction,
        wait=timedelta(hours=body.wait_hours) if body.wait_hours is not None else None,
        actor=who.actor,
        at=found.clock.now(),
    )
    return VariantAdded(variant=added.label, warnings=warnings, campaign=_report(found, name))


class RetryIn(Body):
    outcomes: Annotated[
        list[str],
        Field(
            min_length=1, max_length=3, default_factory=lambda: ["soft_bounce", "failed", "unknown"]
        ),
    ]
    after_hours: Annotated[float, Field(ge=0, le=24 * 365)] = 0.0  # only outcomes this old
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class RetryOut(BaseModel):
    recipients: int
    campaign: CampaignOut


@router.post("/{name}/retry", status_code=201)
def retry(name: str, body: RetryIn, who: Marketing, found: Found) -> RetryOut:
    """A draft follow-up for exactly the rows with these outcomes (soft_bounce, failed,
    unknown), less every address suppressed since."""
    now = found.clock.now()
    campaign, rows = found.stores.retries.retry(
        name,
        outcomes=retry_outcomes(",".join(body.outcomes)),
        settled_before=now - timedelta(hours=body.after_hours),
        new_name=body.name,
        actor=who.actor,
        at=now,
    )
    return RetryOut(recipients=rows, campaign=_report(found, campaign.name))


class CloneIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]


@router.post("/{name}/clone", status_code=201)
def clone_campaign(name: str, body: CloneIn, who: Marketing, found: Found) -> CampaignOut:
    """A new draft with this campaign's list, sender, message and A/B variants."""
    copy = clone(
        found.database,
        found.stores.campaigns.get(name),
        body.name,
        actor=who.actor,
        at=found.clock.now(),
    )
    return _report(found, copy.name)


@router.delete("/{name}", status_code=204)
def delete(name: str, who: Marketing, found: Found) -> None:
    """Delete a draft (409 once it started: its figures are kept); its name is free again."""
    delete_draft(found.database, name, actor=who.actor, at=found.clock.now())


@router.post("/{name}/{action}")
def change(
    name: str,
    action: Literal["pause", "resume", "cancel"],
    who: Marketing,
    found: Found,
    body: Reason | None = None,
) -> CampaignOut:
    """Pause, resume or cancel (cancelling skips every row not yet sent)."""
    reason = (body.reason if body else "") or f"{action} by {who.name}"
    found.stores.campaigns.change(
        name, action, actor=who.actor, reason=reason, at=found.clock.now()
    )
    return _report(found, name)


@router.get("/{name}/export", response_class=FileResponse)
def export(name: str, _: Marketing, found: Found) -> FileResponse:
    """One CSV line per recipient: state, outcome, message id, attempts, last error."""
    with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as handle:
        path = Path(handle.name)
    try:
        export_campaign(found.database, name, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return FileResponse(
        path,
        media_type="text/csv",
        filename=f"{name}.csv",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
