"""The services a world needs: the emulator's key and settings, and a fresh PostgreSQL schema."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy
from pydantic import SecretStr

from warmup.emulator.config import EmulatorConfig

EMULATOR_KEY = base64.b64encode(b"warmup-test-access-key-0123456789").decode()
POSTGRES_URL = os.environ.get(
    "WARMUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class ServiceMissing(RuntimeError):
    """A service the world needs does not answer; the message says how to start it."""


def emulator_config(**overrides: object) -> EmulatorConfig:
    values: dict[str, object] = {"access_key": SecretStr(EMULATOR_KEY), "port": 0, "seed": 1}
    values.update(overrides)
    return EmulatorConfig.model_validate(values)


@contextmanager
def postgres_schema(*, migrated: bool = True) -> Iterator[str]:
    """A URL whose connections use a fresh schema of their own, dropped afterwards; migrated
    to head first, as the migrate Job does before any process starts (processes on
    PostgreSQL check the schema, they do not change it).

    PostgreSQL must be running (CI starts it): a missing server raises :class:`ServiceMissing`
    with how to start it, never a skip.
    """
    admin = sqlalchemy.create_engine(POSTGRES_URL)
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text("select 1"))
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        raise ServiceMissing(
            f"PostgreSQL is not answering at {POSTGRES_URL} ({type(exc.orig).__name__}). Start it "
            "with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        ) from None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f'create schema "{schema}"'))
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        if migrated:
            from warmup.store.database import make_engine, upgrade

            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f'drop schema "{schema}" cascade'))
        admin.dispose()
