"""May this domain and this campaign send right now? Read from the store, briefly cached.

Workers ask before every send, so a pause (ops, a health gate, marketing pausing a campaign)
stops batches already queued within ``ttl`` seconds plus the sends already on the wire. Each
owner answers for its own table: the campaign's status from the campaigns, its domain's from
the domains: a one-row read per campaign and ``ttl``, and one per domain and ``ttl``, shared by
the domain's campaigns (a relay stream and three campaigns on one domain cost four reads, not
eight).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.store import CampaignStore
from warmup.control.state import SENDING_STATUSES
from warmup.domains.store import DomainStatus, DomainStore


class Gate:
    def __init__(
        self,
        campaigns: CampaignStore,
        domains: DomainStore,
        ttl: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._campaigns = campaigns
        self._domains = domains
        self._ttl = ttl
        self._monotonic = monotonic
        self._cache: dict[int, tuple[float, str | None]] = {}
        self._domain_cache: dict[int, tuple[float, DomainStatus | None]] = {}

    def closed(self, campaign_id: int) -> str | None:
        """``None`` when the campaign may send, else why not: never older than ``ttl``."""
        now = self._monotonic()
        cached = self._cache.get(campaign_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        # Dated by its oldest read: an answer built on a domain status read earlier (shared
        # with the domain's other campaigns) expires with that read, so a pause still lands
        # within one TTL, not two.
        reason, read_at = self._read(campaign_id, now)
        self._cache[campaign_id] = (read_at, reason)
        return reason

    def _read(self, campaign_id: int, now: float) -> tuple[str | None, float]:
        campaign = self._campaigns.status_and_domain(campaign_id)
        if campaign is None:
            return "campaign gone", now
        status, domain_id = campaign
        if status is not CampaignStatus.RUNNING:
            return f"campaign {status.value}", now
        read_at, domain = self._domain(domain_id, now)
        if domain is None:
            return "domain gone", read_at
        if domain.status not in SENDING_STATUSES:
            return f"domain {domain.name} {domain.status.value}: {domain.reason}", read_at
        return None, read_at

    def _domain(self, domain_id: int, now: float) -> tuple[float, DomainStatus | None]:
        cached = self._domain_cache.get(domain_id)
        if cached is None or now - cached[0] >= self._ttl:
            cached = (now, self._domains.status_by_id(domain_id))
            self._domain_cache[domain_id] = cached
        return cached
