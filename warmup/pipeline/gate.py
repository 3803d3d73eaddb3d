"""May this domain and this campaign send right now? Read from the store, briefly cached.

Workers ask before every send, so a pause (ops, a health gate, marketing pausing a campaign)
stops batches already queued within ``ttl`` seconds plus the sends already on the wire.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from warmup.campaigns.model import CampaignStatus
from warmup.control.state import SENDING_STATUSES, Status
from warmup.store.database import Database
from warmup.store.models import Campaign, SendingDomain


class Gate:
    def __init__(
        self, database: Database, ttl: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = database
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[int, tuple[float, str | None]] = {}

    def closed(self, campaign_id: int) -> str | None:
        """``None`` when the campaign may send, else why not."""
        now = self._monotonic()
        cached = self._cache.get(campaign_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        reason = self._read(campaign_id)
        self._cache[campaign_id] = (now, reason)
        return reason

    def _read(self, campaign_id: int) -> str | None:
        query = (
            select(Campaign.status, SendingDomain.name, SendingDomain.status, SendingDomain.reason)
            .join(SendingDomain, SendingDomain.id == Campaign.domain_id)
            .where(Campaign.id == campaign_id)
        )
        with self._db.session() as session:
            row = session.execute(query).first()
        if row is None:
            return "campaign gone"
        campaign_status, domain, domain_status, domain_reason = row
        if campaign_status != CampaignStatus.RUNNING.value:
            return f"campaign {campaign_status}"
        if Status(domain_status) not in SENDING_STATUSES:
            return f"domain {domain} {domain_status}: {domain_reason}"
        return None
