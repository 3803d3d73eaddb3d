"""CSV import into SQLite and PostgreSQL: messy files, bad input, atomicity."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from warmup.lists import measures
from warmup.lists.importer import ImportLimits, ImportOptions, ListImporter
from warmup.lists.source import ImportFailure
from warmup.store.database import Database
from warmup.store.models import ContactList, Recipient, Suppression

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
DEFAULT_LIMITS = ImportLimits()


def run(
    db: Database,
    path: Path,
    name: str = "news",
    limits: ImportLimits = DEFAULT_LIMITS,
    **options: object,
):
    return ListImporter(db, limits).run(
        path,
        name,
        options=ImportOptions(**options),
        rejected_path=path.with_suffix(".rejected.csv"),  # type: ignore[arg-type]
        actor="marketing@example.com",
        at=T0,
    )


def count(db: Database, model: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_messy_real_world_file(database: Database, tmp_path: Path) -> None:
    with database.session() as session:
        session.add(
            Suppression(
                address="gone@example.org", reason="hard_bounce", source="event", created_at=T0
            )
        )
    messy = tmp_path / "export.csv"
    messy.write_bytes(
        "\ufeffE-Mail Address;First Name;Engagement;Last Opened At\r\n"
        '"Ada@Example.ORG";"Lovelace; Ada";0.9;2026-11-01\n'
        "\r\n"
        "grace@example.org;Grace;0.7;2026-10-01T10:00:00+02:00\r\n"
        "ADA@example.org;Ada again;0.1;\n"
        "not-an-address;Nobody;;\n"
        "gone@example.org;Gone;;\n"
        '"line@example.org";"Multi\nline";0.5;\n'
        "extra@example.org;Too;many;fields;here\n"
        '=HYPERLINK("http://x")@example.org;Evil;;\n'.encode()
    )
    report = run(database, messy)
    assert (report.rows, report.imported) == (8, 3)
    assert (report.invalid, report.duplicates, report.suppressed) == (3, 1, 1)
    assert report.delimiter == ";"
    assert report.fields == ["first_name", "engagement", "last_opened_at"]
    rejected = (tmp_path / "export.rejected.csv").read_text().splitlines()
    assert rejected[0] == "line,reason,E-Mail Address,First Name,Engagement,Last Opened At"
    assert rejected[1].startswith("5,duplicate of line 2,")
    assert rejected[2].startswith("6,invalid address: An email address must have an @-sign.")
    assert rejected[3] == "7,suppressed (hard_bounce),gone@example.org,Gone,,"
    assert rejected[4].startswith('10,"5 fields, but the header has 4"')
    assert rejected[5].startswith('11,"invalid address: The email address contains invalid')
    assert ",\"'=HYPERLINK(" in rejected[5]  # a formula in the report is defused
    with database.session() as session:
        rows = {r.address: r for r in session.scalars(select(Recipient))}
    assert set(rows) == {"ada@example.org", "grace@example.org", "line@example.org"}
    ada = rows["ada@example.org"]
    assert ada.fields == {
        "first_name": "Lovelace; Ada",
        "engagement": "0.9",
        "last_opened_at": "2026-11-01",
    }
    assert ada.engagement == 0.9
    assert ada.last_engaged_at == datetime(2026, 11, 1, tzinfo=UTC)
    assert rows["line@example.org"].fields["first_name"] == "Multi\nline"
    assert rows["grace@example.org"].last_engaged_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)


def test_appending_reports_addresses_already_in_the_list(
    database: Database, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("email\na@example.org\n")
    second.write_text("email\nA@example.org\nb@example.org\n")
    run(database, first)
    report = run(database, second)
    assert report.appended
    assert (report.imported, report.duplicates) == (1, 1)
    assert "already in the list" in (tmp_path / "b.rejected.csv").read_text()
    assert count(database, Recipient) == 2


def test_a_wrong_encoding_names_the_line_and_changes_nothing(
    database: Database, tmp_path: Path
) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("email,name\na@example.org,Ana\nb@example.org,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(
        ImportFailure, match=r"line 3: not valid utf-8 \(byte 0xe9 at column 18\).*--encoding"
    ):
        run(database, latin)
    assert count(database, ContactList) == 0
    report = run(database, latin, encoding="cp1252")
    assert report.imported == 2
    with database.session() as session:
        assert session.scalar(
            select(Recipient.fields).where(Recipient.address == "b@example.org")
        ) == {"name": "José"}


def test_utf16_with_a_bom_is_read(database: Database, tmp_path: Path) -> None:
    wide = tmp_path / "excel.csv"
    wide.write_bytes("email\tname\r\nzoe@example.org\tZoë\r\n".encode("utf-16"))
    report = run(database, wide)
    assert report.imported == 1
    assert report.delimiter == "\t"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"email,name\n", "has a header but no rows"),
        (b"name,city\nAda,Paris\n", "no email column: the header has name, city"),
        (b"email,Name,name\na@x.org,A,B\n", "columns 2 and 3 are both named 'name'"),
    ],
)
def test_files_that_cannot_be_imported(
    database: Database, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFailure, match=message):
        run(database, path)
    assert count(database, ContactList) == 0


def test_a_10_mb_field_is_refused_cleanly(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    path.write_bytes(
        b"email,notes\na@example.org,ok\nb@example.org," + b"x" * (10 * 1024 * 1024) + b"\n"
    )
    with pytest.raises(ImportFailure, match=r"line 3: longer than 1,048,576 bytes"):
        run(database, path)
    assert count(database, Recipient) == 0


def test_a_failure_after_batches_were_written_leaves_nothing(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "late.csv"
    good = "".join(f"u{i}@example.org\n" for i in range(12_000))
    path.write_bytes(b"email\n" + good.encode() + b"bad\xff@example.org\n")
    with pytest.raises(ImportFailure, match="line 12002"):
        run(database, path)
    assert count(database, Recipient) == 0
    assert count(database, ContactList) == 0


def test_limits(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("email\n" + "".join(f"u{i}@example.org\n" for i in range(11)))
    with pytest.raises(ImportFailure, match="more than 10 rows"):
        run(database, path, limits=ImportLimits(max_rows=10))
    with pytest.raises(ImportFailure, match="the limit is 100"):
        run(database, path, limits=ImportLimits(max_bytes=100))


def test_email_column_can_be_named(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "named.csv"
    path.write_text("Contact,Work Mail\nAda,ada@example.org\n")
    assert run(database, path, email_column="Work Mail").imported == 1
    with pytest.raises(ImportFailure, match="no column 'nope'"):
        run(database, path, name="other", email_column="nope")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-16-le"])
def test_wide_encodings_import_with_their_bom_or_when_named(
    database: Database, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(
        "email,first_name\nann@example.org,Änn\nbob@example.org,Bob\n".encode(encoding)
    )
    named = {"encoding": encoding} if encoding.endswith("-le") else {}  # no BOM: say which
    report = run(database, path, **named)
    assert (report.imported, report.encoding) == (2, encoding)


def test_an_unterminated_quote_is_an_error_with_its_line(
    database: Database, tmp_path: Path
) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('email,first_name\nann@example.org,"Ann\nbob@example.org,Bob\n')
    with pytest.raises(
        ImportFailure, match="line 2: a quote opened in this record is never closed"
    ):
        run(database, path)
    assert count(database, Recipient) == 0


def test_rfc_5321_lengths_are_enforced(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long_local = "a" * 65
    fits = "b" * 64
    path.write_text(f"email\n{long_local}@example.org\n{fits}@example.org\n")
    report = run(database, path)
    assert (report.imported, report.invalid) == (1, 1)


def test_list_names_with_control_characters_are_refused(database: Database, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("email\nann@example.org\n")
    with pytest.raises(ImportFailure, match="no control characters"):
        run(database, path, name="news\x1b[31m")


def test_a_file_prepared_in_worker_processes_stores_what_one_process_would(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above POOL_ABOVE_BYTES rows are prepared in worker processes: every row, rejection and
    stored value is the same as when the importer prepares them itself, in file order."""
    from warmup.lists import importer

    lines = ["email,name,city,engagement,last_engaged_at,note"]
    for i in range(30_000):
        address = f"User{i % 29_000}@Example.ORG" if i % 1000 else f"not-an-address-{i}"
        lines.append(f"{address},Name {i},Zürich,{i % 97 / 10},2026-10-{1 + i % 28:02d},{'x' * 20}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > importer.POOL_ABOVE_BYTES
    pooled = run(database, path, name="pooled")
    monkeypatch.setattr(importer, "POOL_ABOVE_BYTES", 10**12)
    alone = run(database, path, name="alone")
    counted = ("rows", "imported", "invalid", "duplicates", "suppressed")
    assert [getattr(pooled, c) for c in counted] == [getattr(alone, c) for c in counted]
    assert (pooled.imported, pooled.invalid, pooled.duplicates) == (28_971, 30, 999)

    def stored(name: str) -> list[tuple[object, ...]]:
        with database.session() as session:
            return [
                tuple(row)
                for row in session.execute(
                    select(
                        Recipient.address, Recipient.provider, Recipient.fields,
                        Recipient.engagement, Recipient.last_engaged_at, Recipient.source_line,
                    )
                    .join(ContactList, ContactList.id == Recipient.list_id)
                    .where(ContactList.name == name)
                    .order_by(Recipient.source_line)
                )
            ]  # fmt: skip

    rows = stored("pooled")
    assert rows == stored("alone")
    assert rows[0] == (
        "user1@example.org", "other",
        {"name": "Name 1", "city": "Zürich", "engagement": "0.1",
         "last_engaged_at": "2026-10-02", "note": "x" * 20},
        0.1, datetime(2026, 10, 2, tzinfo=UTC), 3,
    )  # fmt: skip
    # The figures the import keeps (size, fields filled), counted in the worker processes'
    # bitmasks, are what a count of the stored rows finds.
    with database.engine.connect() as connection:
        for name in ("pooled", "alone"):
            list_id = connection.scalar(select(ContactList.id).where(ContactList.name == name))
            assert list_id is not None
            assert measures.stored(connection, list_id) == measures.from_rows(connection, list_id)
            assert measures.from_rows(connection, list_id) == measures.ListMeasure(
                28_971,
                dict.fromkeys(("name", "city", "engagement", "last_engaged_at", "note"), 28_971),
            )
