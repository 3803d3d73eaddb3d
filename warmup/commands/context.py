"""What store-backed commands share: settings, the database, who is acting, and now."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from importlib.util import find_spec

from warmup.errors import ConfigError
from warmup.logs import configure_logging
from warmup.settings import Settings, load_settings
from warmup.store.database import Database
from warmup.wiring import Stores


def command_settings() -> Settings:
    settings = load_settings()
    configure_logging(settings)
    return settings


def open_database(settings: Settings) -> Database:
    return Database.connect(settings.database_url.get_secret_value())


def open_stores(settings: Settings) -> Stores:
    """The command's stores (warmup.wiring), over the database the settings name."""
    return Stores.open(settings)


def actor(settings: Settings) -> str:
    """Who the audit log records: WARMUP_ACTOR, else the OS user."""
    return settings.actor or getpass.getuser()


def now() -> datetime:
    return datetime.now(UTC)


def has_extra(module: str) -> bool:
    """Whether an optional dependency is installed (``warmup[chart]``, ``warmup[demo]``): the
    worker image carries neither."""
    return find_spec(module) is not None


def require_extra(module: str, extra: str, what: str) -> None:
    if not has_extra(module):
        raise ConfigError(f"{what} needs the {extra} extra: pip install 'warmup[{extra}]'")
