"""Engine and sessions for the store, and its schema: checked by every process, changed only
by ``warmup db upgrade``.

SQLite gets WAL, foreign keys and a busy timeout so that a worker and the CLI can share the
file; PostgreSQL needs nothing special.

Schema changes follow expand/contract: a migration only adds (nullable columns, new tables,
indexes) in the release that starts using them, and removes what is no longer read one release
later. So processes of the previous release keep working on the new schema while a rollout
replaces them, and a process accepts a schema newer than its own. On PostgreSQL, processes only
check: a schema older than the code is refused with a message naming the command, and
migrations run in ``warmup db upgrade`` (a Job, a compose one-shot, or by hand) under an
advisory lock, so two of them never race. The embedded SQLite store (one host, no rollout) is
upgraded on first use, so the demo and a first try need no step.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from warmup.errors import SchemaError

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration, known without loading Alembic (the fast probe compares with it; a test
# keeps it equal to the head of migrations/versions).
SCHEMA_HEAD = "0031"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # PostgreSQL's gen_random_uuid(), for set-based inserts (a campaign's ledger fill).
    dbapi_connection.create_function("gen_random_uuid", 0, lambda: str(uuid.uuid4()))


def make_engine(url: str, **options: Any) -> Engine:
    _make_room(url)
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _make_room(url: str) -> None:
    """A SQLite file's folder is made when missing (the default store's, on a first run)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def alembic_config(engine: Engine | None) -> Any:
    from alembic.config import Config  # imported here: only migrations need it

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent: nothing to do at head)."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str | None:
    """The newest migration this code has."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(None)).get_current_head()


class Schema(StrEnum):
    CURRENT = "current"  # at this code's head
    NEWER = "newer"  # a revision this code does not know: a later release migrated
    OLDER = "older"  # an earlier revision of this code's: ``warmup db upgrade`` first
    EMPTY = "empty"  # never migrated


def schema_status(revision: str | None) -> Schema:
    """How a schema revision stands against this code's head. Revisions are numbered in
    order, so an unknown or higher one was written by a later release. The one rule for every
    process and for the probe, which reads the revision without Alembic."""
    if revision is None:
        return Schema.EMPTY
    if revision == SCHEMA_HEAD:
        return Schema.CURRENT
    try:
        return Schema.OLDER if int(revision) < int(SCHEMA_HEAD) else Schema.NEWER
    except ValueError:
        return Schema.NEWER


def schema_of(engine: Engine) -> tuple[Schema, str | None]:
    """How the database's schema stands against this code's migrations, and its revision."""
    revision = current_revision(engine)
    return schema_status(revision), revision


def check_schema(engine: Engine) -> Schema:
    """Refuse a schema older than this code (or none); accept the current one or a newer one."""
    schema, revision = schema_of(engine)
    if schema in {Schema.EMPTY, Schema.OLDER}:
        at = f"at {revision}" if revision else "empty"
        raise SchemaError(
            f"the database schema is {at}; this code needs {SCHEMA_HEAD}: "
            "run `warmup db upgrade` (the migrate Job) first"
        )
    return schema


def current_revision(engine: Engine) -> str | None:
    """The schema's Alembic revision (None: no schema), read with one query: Alembic itself
    is imported only when there is something to upgrade."""
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as connection:
        revisions = list(connection.execute(text("SELECT version_num FROM alembic_version")))
    if len(revisions) != 1:  # no revision, or branches (not ours): let Alembic judge
        from alembic.migration import MigrationContext

        with engine.connect() as connection:
            judged: str | None = MigrationContext.configure(connection).get_current_revision()
            return judged
    return str(revisions[0][0])


class Database:
    """An engine plus a session factory; ``with db.session() as s:`` commits or rolls back."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, *, migrate: bool | None = None) -> Database:
        """``migrate``: ``True`` upgrades, ``False`` leaves the schema alone, ``None`` (the
        default) upgrades the embedded SQLite store and checks any other (see the module)."""
        database = cls(make_engine(url))
        if migrate is None:
            migrate = database.engine.dialect.name == "sqlite"
            if not migrate:
                check_schema(database.engine)
            elif schema_of(database.engine)[0] in {Schema.CURRENT, Schema.NEWER}:
                migrate = False  # nothing for Alembic to do: it is not even imported
        if migrate:
            upgrade(database.engine)
        return database

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def dialect_insert(bind: Connection | Session) -> Any:
    """The ``insert`` of the backend in use (PostgreSQL's or SQLite's), for ``ON CONFLICT``
    clauses: both speak them, in the same words."""
    name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert
