"""Campaigns that start by themselves: a draft with a time, started by the reconciler's tick."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from warmup import audit
from warmup.campaigns.model import CampaignStatus, next_status, parse_start
from warmup.campaigns.record import CampaignRecord, campaign_record
from warmup.campaigns.store import CampaignStore
from warmup.domains.store import DomainStore
from warmup.errors import ContentError, NotFoundError, TransitionError, WarmupError
from warmup.plans.model import zone_named
from warmup.store.database import Database
from warmup.store.models import Campaign

# A start time a little in the past (typed at 08:59:50 for 09:00 and sent at 09:00:05) is
# "now", not an error.
SCHEDULE_GRACE = timedelta(minutes=5)


class CampaignSchedule:
    def __init__(self, database: Database, campaigns: CampaignStore, domains: DomainStore) -> None:
        self._db = database
        self._campaigns = campaigns
        self._domains = domains

    def start_time(self, name: str, text: str, tz: str | None) -> datetime:
        """``text`` (e.g. ``2026-12-01 09:00``) in ``tz``, by default the timezone of the plan
        of the campaign's domain: where its sending window is written."""
        campaign = self._campaigns.get(name)
        try:
            zone = (
                zone_named(tz)
                if tz
                else self._domains.domain_of_sender(campaign.sender_address).plan.zone
            )
        except ValueError as exc:
            raise ContentError(str(exc)) from None
        return parse_start(text, zone)

    def schedule(
        self,
        name: str,
        *,
        start_at: datetime,
        allow_empty_fields: bool,
        actor: str,
        at: datetime,
    ) -> CampaignRecord:
        """Have a draft start by itself at ``start_at``. What would stop the start (a field
        rows leave empty, a sender no longer registered) is refused now, not at the time."""
        campaign = self._campaigns.get(name)
        next_status(CampaignStatus(campaign.status), "start", name)
        if start_at < at - SCHEDULE_GRACE:
            raise ContentError(f"{start_at:%Y-%m-%d %H:%M %Z} is in the past")
        self._domains.domain_of_sender(campaign.sender_address)
        self._campaigns.check_startable(campaign, allow_empty_fields)
        with self._db.session() as session:
            row = session.get(Campaign, campaign.id)
            assert row is not None  # read just above; campaigns are never deleted
            row.scheduled_at = start_at
            row.scheduled_by = actor
            row.schedule_allow_empty = allow_empty_fields
            audit.record(
                session,
                "campaign",
                name,
                "schedule",
                actor=actor,
                at=at,
                reason=f"starts at {start_at.isoformat()}",
            )
            return campaign_record(row)

    def unschedule(self, name: str, *, actor: str, at: datetime) -> CampaignRecord:
        """Take a draft's start time away: it waits for someone to start it again."""
        with self._db.session() as session:
            row = session.scalar(select(Campaign).where(Campaign.name == name))
            if row is None:
                raise NotFoundError(f"no campaign {name!r}")
            if row.scheduled_at is None:
                raise TransitionError(f"campaign {name} is not scheduled")
            row.scheduled_at = None
            audit.record(
                session, "campaign", name, "unschedule", actor=actor, at=at, reason="unscheduled"
            )
            return campaign_record(row)

    def start_due(self, now: datetime) -> tuple[list[str], list[str]]:
        """Start every draft whose time has come; return (started, failed). A start that fails
        (the list changed, the domain lost the sender) is audited with its reason and the
        schedule taken away, so it is not retried every tick."""
        with self._db.session() as session:
            due = session.execute(
                select(Campaign.name, Campaign.scheduled_by, Campaign.schedule_allow_empty)
                .where(
                    Campaign.status == CampaignStatus.DRAFT.value,
                    Campaign.scheduled_at <= now,
                )
                .order_by(Campaign.scheduled_at)
            ).all()
        started: list[str] = []
        failed: list[str] = []
        for name, who, allow_empty in due:
            try:
                # Housekeeping only sets it starting; the fill is a job of its own.
                self._campaigns.begin_start(
                    name,
                    actor=who or "schedule",
                    at=now,
                    allow_empty_fields=bool(allow_empty),
                    reason=", as scheduled",
                    filler=False,
                )
                started.append(name)
            except TransitionError:
                continue  # started by someone else meanwhile
            except WarmupError as exc:
                self._schedule_failed(name, str(exc), now)
                failed.append(name)
        return started, failed

    def _schedule_failed(self, name: str, why: str, at: datetime) -> None:
        with self._db.session() as session:
            row = session.scalar(select(Campaign).where(Campaign.name == name))
            if row is None or row.status != CampaignStatus.DRAFT.value:
                return
            row.scheduled_at = None
            audit.record(
                session, "campaign", name, "schedule-failed", actor="schedule", at=at, reason=why
            )
