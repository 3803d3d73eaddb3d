import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from pydantic import SecretStr

from harness.services import (
    EMULATOR_KEY,
    ServiceMissing,
    emulator_config,
    postgres_schema,
)
from warmup.emulator.server import EmulatorServer
from warmup.errors import ThrottledError
from warmup.sending.client import build_async_client
from warmup.sending.retry import RetryPolicy
from warmup.sending.sender import AsyncSender
from warmup.settings import AcsAuth, Settings

if TYPE_CHECKING:
    from warmup.store.database import Database

SENDER = "news@example.com"

# A command run without a store of its own uses the user's data directory: in the tests, one
# of this run's own (subprocesses inherit it), never the real ~/.local/share/warmup.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="warmup-tests-data-")


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_config()) as server:
        yield server


def settings_for(server: EmulatorServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "acs_auth": AcsAuth.KEY,
        "acs_endpoint": server.url,
        "acs_access_key": SecretStr(EMULATOR_KEY),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until ``condition`` holds; fail the test with a clear message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def message_to(*addresses: str, subject: str = "hello") -> dict[str, object]:
    return {
        "senderAddress": SENDER,
        "recipients": {"to": [{"address": a} for a in addresses]},
        "content": {"subject": subject, "plainText": "hi"},
    }


def with_sender(
    settings: Settings,
    use: Callable[[AsyncSender], Awaitable[Any]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    throttle_hook: Callable[[ThrottledError], None] | None = None,
) -> Any:
    """``use(sender)`` on a fresh event loop, with a client built from ``settings``."""

    async def go() -> Any:
        client = build_async_client(settings)
        try:
            return await use(
                AsyncSender(client, RetryPolicy(), sleep=sleep, throttle_hook=throttle_hook)
            )
        finally:
            await client.close()

    return asyncio.run(go())


def send_all(
    server: EmulatorServer, *sends: tuple[dict[str, Any], str], **kwargs: Any
) -> list[Any]:
    async def use(sender: AsyncSender) -> list[Any]:
        return [await sender.send(message, operation_id) for message, operation_id in sends]

    return with_sender(settings_for(server), use, **kwargs)  # type: ignore[no-any-return]


# --- the store, on SQLite and on PostgreSQL -------------------------------------------------


def postgres_schema_url(*, migrated: bool = True) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test (harness.services.postgres_schema); a server
    that does not answer fails the test with how to start it, never a skip."""
    try:
        with postgres_schema(migrated=migrated) as url:
            yield url
    except ServiceMissing as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres_schema_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warmup.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store that was never migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warmup.db'}"
    else:
        yield from postgres_schema_url(migrated=False)


@pytest.fixture
def database(database_url: str) -> "Iterator[Database]":
    from warmup.store.database import Database

    db = Database.connect(database_url, migrate=True)
    yield db
    db.dispose()


REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_fail() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(
            f"Redis is not answering at {REDIS_URL}; start it with: redis-server --daemonize yes "
            "--bind 127.0.0.1 --port 6379 --save '' --appendonly no",
            pytrace=False,
        )
    return client


@pytest.fixture(autouse=True)
def table_writes_go_through_their_owners() -> Iterator[None]:
    """Fail any test during which code outside a table's owner wrote that table."""
    from tests import write_guard

    write_guard.install()
    write_guard.violations.clear()
    yield
    found = sorted(set(write_guard.violations))
    write_guard.violations.clear()
    assert not found, "writes outside the table's owner:\n" + "\n".join(found)
