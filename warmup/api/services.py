"""What every route needs, built once per app: settings, the store, the clock, Redis."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from fastapi import Request
from prometheus_client import CollectorRegistry

from warmup.clock import Clock
from warmup.content.unsubscribe import Unsubscriber
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.store.tokens import TokenStore


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    tokens: TokenStore
    # Without a secret the links cannot be checked: /u/ answers 503 rather than guessing.
    unsubscriber: Unsubscriber | None
    # The broker, for queue depths and 429 counts in /metrics and a check in /readyz.
    redis: redis.Redis | None
    # Prometheus registry reading the figures above at each scrape (set by create_app).
    metrics: CollectorRegistry | None = None


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
