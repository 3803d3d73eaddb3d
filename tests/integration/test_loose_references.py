"""Migrations 0020 and 0022: the ledger's references without foreign keys, its Operation-Ids
without a unique index. Down and up again on a ledger with rows: the rows, indexes and
counting triggers come through unchanged (SQLite rebuilds the table), and ``warmup db check``
proves what the constraints used to."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import Connection, inspect, select, text, update

from harness.pipeline_world import seed_campaign
from tests.cli import cli
from warmup.ledger import counters
from warmup.ledger.references import orphans, shared_operation_ids
from warmup.store.database import Database, alembic_config
from warmup.store.models import LedgerRow

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def schema(connection: Connection) -> tuple[object, ...]:
    """The ledger's indexes and triggers as the database records them, and its rows."""
    if connection.dialect.name == "sqlite":
        found = connection.execute(
            text(
                "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'send_ledger' "
                "AND type IN ('index', 'trigger') ORDER BY type, name"
            )
        ).all()
    else:
        found = connection.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'send_ledger' "
                "AND schemaname = current_schema() UNION ALL "
                "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger AS t "
                "WHERE tgrelid = 'send_ledger'::regclass AND NOT tgisinternal ORDER BY 1"
            )
        ).all()
    rows = connection.execute(select(LedgerRow).order_by(LedgerRow.id)).all()
    return tuple(map(tuple, found)), tuple(map(tuple, rows))


def foreign_keys(database: Database) -> list[str]:
    return sorted(
        key["referred_table"] for key in inspect(database.engine).get_foreign_keys("send_ledger")
    )


def unique_columns(database: Database) -> list[list[str]]:
    return sorted(
        sorted(c["column_names"])
        for c in inspect(database.engine).get_unique_constraints("send_ledger")
    )


def test_down_and_up_again_keeps_rows_indexes_and_counting(
    database_url: str, tmp_path: Path
) -> None:
    database = Database.connect(database_url, migrate=True)
    seed_campaign(database, tmp_path, recipients=12, now=NOW)
    with database.engine.connect() as connection:
        at_head = schema(connection)
    assert foreign_keys(database) == []
    address = ["address", "campaign_id", "relay_message_id"]
    assert unique_columns(database) == [address]
    command.downgrade(alembic_config(database.engine), "0021")
    assert unique_columns(database) == [address, ["operation_id"]]
    command.downgrade(alembic_config(database.engine), "0019")
    assert foreign_keys(database) == ["campaigns", "recipients"]
    with database.engine.connect() as connection:
        assert schema(connection)[1] == at_head[1]  # the rows
    command.upgrade(alembic_config(database.engine), "head")
    assert foreign_keys(database) == []
    assert unique_columns(database) == [address]
    with database.engine.connect() as connection:
        assert schema(connection) == at_head
    # The triggers count on the rebuilt table as before.
    with database.engine.begin() as connection:
        connection.execute(update(LedgerRow).where(LedgerRow.rank <= 5).values(state="skipped"))
        counters.fold(connection)
    assert counters.mismatches(database) == []
    with database.engine.connect() as connection:
        assert orphans(connection) == []
        assert shared_operation_ids(connection) == []
    database.dispose()


def test_the_check_command_names_dangling_references(database_url: str, tmp_path: Path) -> None:
    database = Database.connect(database_url, migrate=True)
    seed_campaign(database, tmp_path, recipients=4, now=NOW)
    with database.engine.begin() as connection:  # what a foreign key would have refused
        connection.execute(update(LedgerRow).where(LedgerRow.rank == 1).values(recipient_id=10**9))
    database.dispose()
    result = cli(database_url, "db", "check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 ledger row(s) name a recipient that does not exist" in result.stdout


def test_the_check_command_names_a_shared_operation_id(database_url: str, tmp_path: Path) -> None:
    database = Database.connect(database_url, migrate=True)
    seed_campaign(database, tmp_path, recipients=4, now=NOW)
    with database.engine.begin() as connection:  # what the unique index would have refused
        first = connection.scalar(select(LedgerRow.operation_id).where(LedgerRow.rank == 1))
        connection.execute(update(LedgerRow).where(LedgerRow.rank == 2).values(operation_id=first))
    database.dispose()
    result = cli(database_url, "db", "check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"1 Operation-Id(s) held by more than one ledger row (one: {first})" in result.stdout
    assert "1 kind(s) of broken reference or shared id" in result.stderr
