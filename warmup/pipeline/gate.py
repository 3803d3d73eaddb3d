"""May this domain and this campaign send right now? Read from the store, briefly cached.

Workers ask before every send, so a pause (ops, a health gate, marketing pausing a campaign)
stops batches already queued within ``ttl`` seconds plus the sends already on the wire. Each
owner answers for its own table: the campaign's status from the campaigns, its domain's from
the domains (two one-row reads per campaign and ``ttl``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.store import CampaignStore
from warmup.control.state import SENDING_STATUSES
from warmup.domains.store import DomainStore
from warmup.store.database import Database


class Gate:
    def __init__(
        self, database: Database, ttl: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._campaigns = CampaignStore(database)
        self._domains = DomainStore(database)
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
        campaign = self._campaigns.status_and_domain(campaign_id)
        if campaign is None:
            return "campaign gone"
        status, domain_id = campaign
        if status is not CampaignStatus.RUNNING:
            return f"campaign {status.value}"
        domain = self._domains.status_by_id(domain_id)
        if domain is None:
            return "domain gone"
        if domain.status not in SENDING_STATUSES:
            return f"domain {domain.name} {domain.status.value}: {domain.reason}"
        return None
