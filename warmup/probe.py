"""``warmup-probe``: the readiness probe for containers, fast enough for a 1 s probe timeout, and
``warmup-probe --alive``, the liveness probe of workers and beat (their heartbeat file).

It loads no CLI, no migrations and no Azure SDK: the settings, a database round trip that
reads the schema's revision (older than this code: not ready; newer: ready, see
:mod:`warmup.store.database`), and a Redis ping. ``warmup ready`` is the thorough check (it
also obtains an Entra ID token); run it by hand or at start-up, not every few seconds.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import text

from warmup.errors import ConfigError
from warmup.settings import Settings, load_settings
from warmup.store.database import SCHEMA_HEAD, Schema, make_engine, schema_status

TIMEOUT_SECONDS = 2


def problems(settings: Settings) -> list[str]:
    found: list[str] = []
    engine = make_engine(settings.database_url.get_secret_value(), pool_pre_ping=False)
    try:
        with engine.connect() as connection:
            revision = connection.execute(text("select version_num from alembic_version")).scalar()
        if schema_status(revision) in {Schema.EMPTY, Schema.OLDER}:
            found.append(f"store: schema {revision or 'empty'}, this code needs {SCHEMA_HEAD}")
    except Exception as exc:  # any failure means not ready; say which kind, never the URL
        found.append(f"store: {type(exc).__name__}")
    finally:
        engine.dispose()
    if settings.redis_url is not None:
        import redis  # only where Redis is configured

        try:
            client = redis.Redis.from_url(
                settings.redis_url.get_secret_value(), socket_timeout=TIMEOUT_SECONDS
            )
            client.ping()
            client.close()
        except redis.RedisError as exc:
            found.append(f"redis: {type(exc).__name__}")
    return found


STALE_AFTER_HEARTBEATS = 6


def stale(settings: Settings, now: float) -> str | None:
    """Why the process is not alive (its heartbeat file is missing or old), or ``None``."""
    try:
        age = now - settings.heartbeat_file.stat().st_mtime
    except FileNotFoundError:
        return f"no heartbeat at {settings.heartbeat_file}"
    if age > STALE_AFTER_HEARTBEATS * settings.heartbeat_seconds:
        return f"last heartbeat {age:.0f} s ago"
    return None


def main() -> None:
    """``warmup-probe``: readiness; ``warmup-probe --alive``: liveness (the heartbeat only)."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        sys.exit(1)
    if "--alive" in sys.argv[1:]:
        reason = stale(settings, time.time())
        if reason is not None:
            print(f"not alive: {reason}", file=sys.stderr)
            sys.exit(1)
        print("alive")
        return
    found = problems(settings)
    if found:
        print("not ready: " + "; ".join(found), file=sys.stderr)
        sys.exit(1)
    print("ready")


if __name__ == "__main__":
    main()
