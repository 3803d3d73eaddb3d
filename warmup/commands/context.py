"""What store-backed commands share: settings, the database, who is acting, and now."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from importlib.util import find_spec

import redis

from warmup.errors import ConfigError
from warmup.logs import configure_logging
from warmup.ratelimit.base import Limiter
from warmup.ratelimit.redis_limiter import RedisLimiter
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


def status_limiter(settings: Settings) -> Limiter | None:
    """The workers' limiter, read by status commands for an ACS throttle in force; None when no
    Redis is configured. Short timeouts: a status must answer even if Redis does not."""
    if settings.redis_url is None:
        return None
    client = redis.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_timeout=2, socket_connect_timeout=2
    )
    return RedisLimiter(client)


def now() -> datetime:
    return datetime.now(UTC)


def has_extra(module: str) -> bool:
    """Whether an optional dependency is installed (``warmup[chart]``, ``warmup[demo]``): the
    worker image carries neither."""
    return find_spec(module) is not None


def require_extra(module: str, extra: str, what: str) -> None:
    if not has_extra(module):
        raise ConfigError(f"{what} needs the {extra} extra: pip install 'warmup[{extra}]'")
