"""Issue 18's migrations: only `warmup db upgrade` changes the schema on PostgreSQL, under an
advisory lock; every other process checks it, refuses one older than it needs, and keeps
serving on a newer one (expand/contract), so a rollout never empties the Service."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text

from tests.cli import cli
from tests.conftest import postgres_schema_url
from warmup.api.app import create_app
from warmup.errors import SchemaError
from warmup.settings import Settings
from warmup.store.database import (
    Database,
    Schema,
    head_revision,
    make_engine,
    schema_of,
    upgrade,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    yield from postgres_schema_url(migrated=False)


def test_processes_refuse_an_older_schema_and_say_which_command_fixes_it(
    empty_postgres: str,
) -> None:
    refused = cli(empty_postgres, "lists", "show")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"configuration error: the database schema is empty; this code needs {head_revision()}: "
        "run `warmup db upgrade` (the migrate Job) first"
    )
    engine = make_engine(empty_postgres)
    upgrade(engine, "0007")
    with pytest.raises(SchemaError, match="schema is at 0007; this code needs"):
        Database.connect(empty_postgres)
    assert schema_of(engine) == (Schema.OLDER, "0007")
    engine.dispose()
    assert cli(empty_postgres, "db", "upgrade").returncode == 0
    assert cli(empty_postgres, "lists", "show").returncode == 0


def test_old_processes_keep_serving_on_a_newer_schema(empty_postgres: str) -> None:
    # The production order: the migrate Job first, then the processes (which only check).
    assert cli(empty_postgres, "db", "upgrade").returncode == 0
    database = Database.connect(empty_postgres)
    app = create_app(Settings(webhook_secrets=SecretStr("s" * 32)), database)
    with TestClient(app) as client:
        assert client.get("/readyz").json()["checks"]["database"] == "ok"
        # A later release's migrate Job runs while this release's pods still serve: it only
        # expands (a new nullable column), and stamps a revision this code does not know.
        with database.engine.begin() as connection:
            connection.execute(text("alter table sending_domains add column later_use text"))
            connection.execute(text("update alembic_version set version_num = '0099'"))
        assert schema_of(database.engine) == (Schema.NEWER, "0099")
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert client.get("/api/domains", headers={"Authorization": "Bearer x"}).status_code == 401
    Database.connect(empty_postgres).dispose()  # a restarting old pod starts on it too
    database.dispose()


def test_concurrent_upgrades_take_turns_under_the_advisory_lock(empty_postgres: str) -> None:
    # Three migrate Jobs at once (a re-applied release, a hand-run upgrade): without the lock,
    # the losers fail on tables the winner is creating.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env["WARMUP_DATABASE_URL"] = empty_postgres
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "warmup", "db", "upgrade"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(run.wait(60), *run.communicate()) for run in runs]
    assert [code for code, _, _ in results] == [0, 0, 0], results
    engine = make_engine(empty_postgres)
    assert schema_of(engine) == (Schema.CURRENT, head_revision())
    engine.dispose()


def test_the_embedded_sqlite_store_is_upgraded_on_first_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'first.db'}"
    assert cli(url, "lists", "show").returncode == 0
    engine = make_engine(url)
    assert schema_of(engine) == (Schema.CURRENT, head_revision())
    engine.dispose()


def probe(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    clean.update(WARMUP_DATABASE_URL=url, **env)
    return subprocess.run(
        [sys.executable, "-m", "warmup.probe"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_fast_probe_knows_the_head_without_alembic_and_says_what_is_not_ready(
    empty_postgres: str,
) -> None:
    from warmup.store.database import SCHEMA_HEAD

    assert head_revision() == SCHEMA_HEAD  # keep the constant with the migrations
    assert probe(empty_postgres).stderr.startswith("not ready: store: ")
    engine = make_engine(empty_postgres)
    upgrade(engine, "0007")
    older = probe(empty_postgres)
    assert older.returncode == 1
    assert older.stderr.strip() == f"not ready: store: schema 0007, this code needs {SCHEMA_HEAD}"
    upgrade(engine)
    engine.dispose()
    ready = probe(empty_postgres, WARMUP_REDIS_URL="redis://127.0.0.1:6379/0")
    assert (ready.returncode, ready.stdout.strip()) == (0, "ready")
    no_redis = probe(empty_postgres, WARMUP_REDIS_URL="redis://127.0.0.1:1/0")
    assert no_redis.stderr.strip() == "not ready: redis: ConnectionError"
