"""The FastAPI application, built explicitly from settings.

``/api/...`` (lists, campaigns, domains, plans, tokens) needs a bearer token with a role;
``/dashboard`` is a page with no data of its own that calls the API with the token the user
types in; ``/webhooks/acs`` and ``/u/{token}`` carry their own secrets and signatures;
``/metrics``, ``/healthz`` and ``/readyz`` are for monitoring. OpenAPI docs are at ``/docs``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version as package_version

import redis
from fastapi import FastAPI

from warmup.api import (
    audit_log,
    campaigns,
    dashboard,
    domains,
    lists,
    metrics,
    problems,
    suppressions,
    tokens,
    unsubscribe,
    webhook,
)
from warmup.api.access import ADMIN_PATHS, ClientAllowList, HeadAsGet, RefuseNul
from warmup.api.docs import install_docs
from warmup.api.services import Services
from warmup.campaigns.compose import unsubscriber_from
from warmup.clock import Clock
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.wiring import Stores

DESCRIPTION = """Send bulk email through Azure Communication Services while a domain warms up.

Authenticate with `Authorization: Bearer <token>`; create tokens with
`warmup token create NAME --role marketing|ops|admin`. Marketing changes lists and campaigns,
ops changes sending domains and plans, admin changes tokens and everything else; every role may
read. Errors are `{"error": "...", "problems": [...]}`.
"""


def create_app(
    settings: Settings, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    owned = database is None
    db = database or Database.connect(settings.database_url.get_secret_value())
    broker = (
        redis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=2)
        if settings.redis_url
        else None
    )
    stores = Stores(db, settings)
    found = Services(
        settings=settings,
        stores=stores,
        database=db,
        clock=clock or stores.clock,
        tokens=stores.tokens,
        unsubscriber=unsubscriber_from(settings) if settings.unsubscribe_secret_values() else None,
        redis=broker,
    )
    found.metrics = metrics.registry_for(found)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if broker is not None:
            broker.close()
        if owned:
            db.dispose()

    app = FastAPI(
        title="warmup",
        version=package_version("warmup"),
        description=DESCRIPTION,
        lifespan=lifespan,
        # Swagger UI from the package, with a CSP (docs.py); no ReDoc, which needs a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.state.services = found
    problems.install(app)
    for module in (
        lists,
        campaigns,
        suppressions,
        domains,
        audit_log,
        tokens,
        metrics,
        dashboard,
        webhook,
        unsubscribe,
    ):
        app.include_router(module.router)
    networks = settings.allowed_networks()
    if networks is not None:
        app.add_middleware(ClientAllowList, networks=networks)
    admins = settings.admin_networks()
    if admins is not None:
        app.add_middleware(
            ClientAllowList,
            networks=admins,
            paths=ADMIN_PATHS,
            refusal="metrics and the API docs answer only WARMUP_API_ADMIN_CIDRS",
        )
    app.add_middleware(RefuseNul)
    app.add_middleware(HeadAsGet)
    return app
