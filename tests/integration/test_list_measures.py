"""A list's size and its fields' fill, kept on the list's row as recipients are written: they
equal a count of the rows, and a campaign start reads them instead of the rows."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, select, update

from harness.pipeline_world import DOMAIN, SENDER, UNBOUNDED
from tests.cli import cli
from warmup.content.templates import MessageTemplate
from warmup.control.caps import AcsQuota
from warmup.domains.store import DomainStore
from warmup.errors import ContentError
from warmup.lists.catalog import list_summaries
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.lists.measures import ListMeasure, from_rows, mismatches, stored
from warmup.plans.loader import parse_plan
from warmup.store.database import Database
from warmup.store.models import ContactList, Suppression
from warmup.wiring import Stores

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def load(database: Database, folder: Path, name: str, text: str) -> None:
    path = folder / f"{name}-{len(text)}.csv"
    path.write_text(text)
    ListImporter(database).run(
        path, name, options=ImportOptions(), rejected_path=folder / "rejected.csv",
        actor="m", at=T0,
    )  # fmt: skip


def kept_and_counted(database: Database, name: str) -> tuple[ListMeasure | None, ListMeasure]:
    with database.engine.connect() as connection:
        list_id = connection.scalar(select(ContactList.id).where(ContactList.name == name))
        assert list_id is not None
        return stored(connection, list_id), from_rows(connection, list_id)


def test_an_import_and_an_append_keep_what_a_count_of_the_rows_finds(
    database: Database, tmp_path: Path
) -> None:
    with database.session() as session:
        session.add(Suppression(address="gone@example.org", reason="complaint", source="event",
                                created_at=T0))  # fmt: skip
    load(database, tmp_path, "news", "email,name,city\n"
         "a@example.org,Ada,Paris\n"
         "b@example.org,,Rome\n"
         "c@example.org,Cy,   \n"  # blank: no value
         "not-an-address,Nobody,Oslo\n"  # rejected rows count nowhere
         "a@example.org,Ada again,Lyon\n"
         "gone@example.org,Gone,Bern\n"
         "d@example.org,Di\n")  # fmt: skip
    kept, counted = kept_and_counted(database, "news")
    assert kept == counted == ListMeasure(4, {"name": 3, "city": 2})
    # An appended file brings a column the list did not have, and lacks one it had.
    load(database, tmp_path, "news", "email,name,plan\n"
         "e@example.org,Eve,gold\n"
         "b@example.org,Bo,silver\n"  # already in the list: not counted again
         "f@example.org,Fay,\n")  # fmt: skip
    kept, counted = kept_and_counted(database, "news")
    assert kept == counted == ListMeasure(6, {"name": 5, "city": 2, "plan": 1})
    assert kept.lacking("city") == 4
    assert kept.lacking("unknown") == 6


def test_a_list_from_before_the_figures_is_measured_once_when_needed(
    database: Database, tmp_path: Path
) -> None:
    load(database, tmp_path, "old", "email,name\na@example.org,Ada\nb@example.org,\n")
    with database.engine.begin() as connection:  # as schema 0019 finds older lists
        connection.execute(update(ContactList).values(size=None, filled=None))
    assert kept_and_counted(database, "old")[0] is None
    assert [s.recipients for s in list_summaries(database)] == [2]
    assert kept_and_counted(database, "old")[0] == ListMeasure(2, {"name": 1})
    # Appending to such a list counts its older rows too.
    with database.engine.begin() as connection:
        connection.execute(update(ContactList).values(size=None, filled=None))
    load(database, tmp_path, "old", "email,name\nc@example.org,Cy\n")
    assert kept_and_counted(database, "old")[0] == ListMeasure(3, {"name": 2})


def test_a_start_reads_none_of_the_lists_rows(database: Database, tmp_path: Path) -> None:
    """The request's checks (fields the template uses, the list's size) read the kept
    figures: no statement of ``begin_start`` touches ``recipients`` unless a field has gaps,
    and then only to name a few of their lines."""
    DomainStore(database).create(
        DOMAIN, parse_plan(UNBOUNDED), UNBOUNDED, quota=AcsQuota(), senders=[SENDER],
        actor="ops", at=T0,
    )  # fmt: skip
    rows = "".join(f"r{i}@example.org,R{i},{'' if i % 4 else 'VIP'}\n" for i in range(40))
    load(database, tmp_path, "people", "email,name,tier\n" + rows)
    store = Stores(database).campaigns
    for name, field in (("plain", "name"), ("tiered", "tier")):
        store.create(name, list_name="people", sender=SENDER, actor="m", at=T0,
                     template=MessageTemplate(f"Hi {{{{ {field} }}}}", None, "Hello"))  # fmt: skip
    statements: list[str] = []

    def seen(_c: Connection, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        assert store.begin_start("plain", actor="m", at=T0).total == 40
        assert statements
        assert not [s for s in statements if "recipients" in s]
        statements.clear()
        with pytest.raises(
            ContentError, match=r"tier is empty on 30 rows \(lines 3, 4, 5, 7, 8, …\)"
        ):
            store.begin_start("tiered", actor="m", at=T0)
        reads = [s for s in statements if "recipients" in s]
        assert len(reads) == 1
        assert "LIMIT" in reads[0].upper()
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)


def test_the_check_command_proves_the_figures_or_names_the_one_that_drifted(
    database_url: str, tmp_path: Path
) -> None:
    database = Database.connect(database_url, migrate=True)
    load(database, tmp_path, "news", "email,name\na@example.org,Ada\nb@example.org,\n")
    with database.engine.connect() as connection:
        assert mismatches(connection) == []
    result = cli(database_url, "db", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "counters agree with the ledger and the lists" in result.stdout
    with database.engine.begin() as connection:  # a hand edit, or a bug in a writer
        connection.execute(update(ContactList).values(filled={"name": 2}))
    database.dispose()
    result = cli(database_url, "db", "check")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "list news recipients with name: counters say 2, the list holds 1" in result.stdout
