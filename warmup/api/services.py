"""What every route needs, built once per app: settings, the store, the clock, Redis."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

import redis
from fastapi import Depends, Request
from prometheus_client import CollectorRegistry

from warmup.clock import Clock
from warmup.content.unsubscribe import Unsubscriber
from warmup.pipeline.outcome_poll import StatusBudget
from warmup.ratelimit.base import Limiter
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.tokens import TokenStore
from warmup.views.recovery import budget_for
from warmup.wiring import Stores, limiter_over


@dataclass
class Services:
    settings: Settings
    # The process's stores (warmup.wiring): every route takes its store from here.
    stores: Stores
    database: Database
    clock: Clock
    tokens: TokenStore
    # Without a secret the links cannot be checked: /u/ answers 503 rather than guessing.
    unsubscriber: Unsubscriber | None
    # The broker, for queue depths and 429 counts in /metrics and a check in /readyz.
    redis: redis.Redis | None
    # Prometheus registry reading the figures above at each scrape (set by create_app).
    metrics: CollectorRegistry | None = None
    # Webhook events this process left out of their batches, by reason (invalid, unstorable).
    refused_events: Counter[str] = field(default_factory=Counter)

    @property
    def limiter(self) -> Limiter | None:
        """The workers' limiter, to read (an ACS throttle in force), never to take permits."""
        return limiter_over(self.redis) if self.redis is not None else None

    def status_budget(self, now: datetime) -> StatusBudget | None:
        """The status-GET budget left (how fast rows in doubt are settled), if readable."""
        return budget_for(self.settings, self.limiter, now)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


# A route's parameter for the services: ``def route(found: Found)``.
Found = Annotated[Services, Depends(services)]
