"""What store-backed commands share: settings, the database, who is acting, and now."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

from warmup.logs import configure_logging
from warmup.settings import Settings, load_settings
from warmup.store.database import Database


def command_settings() -> Settings:
    settings = load_settings()
    configure_logging(settings)
    return settings


def open_database(settings: Settings) -> Database:
    return Database.connect(settings.database_url.get_secret_value())


def actor(settings: Settings) -> str:
    """Who the audit log records: WARMUP_ACTOR, else the OS user."""
    return settings.actor or getpass.getuser()


def now() -> datetime:
    return datetime.now(UTC)
