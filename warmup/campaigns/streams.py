"""Each domain's transactional stream: the campaign that holds what the SMTP relay took.

While a domain warms up, all its mail spends the same reputation and quota: an app's password
resets and an office printer's scans go through the same ramp as the campaigns. They are a
campaign of kind ``relay`` (one per domain, made on the first relayed message) with the highest
priority, so the dispatcher serves them first within the domain's allowance and bulk takes
what is left. The stream never completes; ops may pause it like any campaign.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from warmup import audit
from warmup.campaigns.model import CampaignStatus
from warmup.lists.importer import new_list
from warmup.lists.source import ImportFailure
from warmup.store.database import Database
from warmup.store.models import RELAY_KIND, Campaign

RELAY = RELAY_KIND
# Ahead of every campaign (their priorities are small numbers ops choose).
RELAY_PRIORITY = 1_000_000
ACTOR = "warmup relay"


def stream_name(domain: str) -> str:
    return f"relay: {domain}"


@dataclass(frozen=True)
class Stream:
    campaign_id: int
    status: CampaignStatus


class TransactionalStreams:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, domain: str) -> Stream | None:
        query = select(Campaign.id, Campaign.status).where(
            Campaign.name == stream_name(domain), Campaign.kind == RELAY
        )
        with self._db.session() as session:
            found = session.execute(query).first()
        return None if found is None else Stream(found[0], CampaignStatus(found[1]))

    def for_domain(self, domain: str, domain_id: int, at: datetime) -> Stream:
        """The domain's stream, made (running) the first time it is asked for."""
        found = self.get(domain)
        if found is not None:
            return found
        try:
            return self._create(domain, domain_id, at)
        except (IntegrityError, ImportFailure):  # another relay thread or process made it
            made = self.get(domain)
            if made is None:
                raise
            return made

    def _create(self, domain: str, domain_id: int, at: datetime) -> Stream:
        name = stream_name(domain)
        with self._db.engine.begin() as connection:
            list_id = new_list(connection, name=name, fields=[], actor=ACTOR, at=at)
            campaign_id = connection.execute(
                insert(Campaign).values(
                    name=name,
                    kind=RELAY,
                    list_id=list_id,
                    domain_id=domain_id,
                    sender_address=f"postmaster@{domain}",
                    subject="(messages as apps and devices submitted them)",
                    status=CampaignStatus.RUNNING.value,
                    priority=RELAY_PRIORITY,
                    created_at=at,
                    created_by=ACTOR,
                    started_at=at,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            audit.record(
                connection,
                "campaign",
                name,
                "create",
                actor=ACTOR,
                at=at,
                reason=f"the transactional stream of {domain}: what the SMTP relay accepts",
            )
        return Stream(int(campaign_id), CampaignStatus.RUNNING)
