"""The FastAPI application, built explicitly from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from warmup.api import unsubscribe, webhook
from warmup.campaigns.compose import unsubscriber_from
from warmup.clock import Clock, clock_for
from warmup.errors import ConfigError
from warmup.feedback.intake import FeedbackStore
from warmup.settings import Settings, env_name
from warmup.store.database import Database
from warmup.store.suppression import SuppressionStore


def create_app(
    settings: Settings, database: Database | None = None, clock: Clock | None = None
) -> FastAPI:
    if settings.webhook_secrets is None:
        raise ConfigError(
            f"{env_name('webhook_secrets')} is required: the webhook must not be open"
        )
    secrets = [
        s.strip().encode()
        for s in settings.webhook_secrets.get_secret_value().split(",")
        if s.strip()
    ]
    owned = database is None
    db = database or Database.connect(settings.database_url.get_secret_value())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            db.dispose()

    app = FastAPI(title="warmup", version="0.1.0", lifespan=lifespan)
    app.state.webhook_secrets = secrets
    app.state.webhook_max_bytes = settings.webhook_max_bytes
    app.state.clock = clock or clock_for(settings.clock_scale, settings.clock_origin)
    app.state.feedback = FeedbackStore(
        db, soft_failures_to_suppress=settings.soft_failures_to_suppress
    )
    app.state.suppression = SuppressionStore(db)
    # Without a secret the links cannot be checked: /u/ answers 503 rather than guessing.
    app.state.unsubscriber = unsubscriber_from(settings) if settings.unsubscribe_secret else None
    app.include_router(webhook.router)
    app.include_router(unsubscribe.router)

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app
