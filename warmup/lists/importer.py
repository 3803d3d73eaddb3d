"""Import a CSV into a recipient list: streamed, validated, de-duplicated, atomic.

One transaction holds the whole import: if anything fails (a bad byte, a limit, the database)
nothing is written, not even the list. Rows go in batches (PostgreSQL ``COPY``, SQLite
executemany), so memory holds one batch plus the set of addresses already seen. Every row that
is not imported is written to the rejected-rows report with its line number and the reason.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from warmup import audit
from warmup.content.page_languages import declared_languages
from warmup.control.providers import provider_group
from warmup.errors import ConflictError, NotFoundError
from warmup.heap import frozen_heap
from warmup.lists.chunk_pool import ChunkPool
from warmup.lists.fields import FieldMap
from warmup.lists.measures import EMPTY, FilledTally, ListMeasure, from_rows, stored
from warmup.lists.prepare import Prepared, prepare_rows
from warmup.lists.rejected import RejectedRows
from warmup.lists.source import CsvSource, ImportFailure
from warmup.store.database import Database
from warmup.store.models import Campaign, ContactList, LedgerRow, Recipient, Suppression
from warmup.suppression.store import active_at

BATCH = 5000  # rows per insert
CHUNK = 2000  # rows per task of the worker processes
POOL_ABOVE_BYTES = 1024**2  # prepare rows in worker processes for files larger than this
Progress = Callable[[int, int], None]  # (bytes read, rows read)


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int = 2 * 1024**3
    max_rows: int = 5_000_000
    max_line_bytes: int = 1024**2


@dataclass(frozen=True)
class ImportOptions:
    encoding: str | None = None
    delimiter: str | None = None
    email_column: str | None = None
    check_mx: bool = False
    # Members already on the list take the file's fields (else their rows are rejected as
    # "already in the list").
    update: bool = False
    # The languages the list's recipients read (checked: see content.page_languages); given,
    # they replace what the list declared; None keeps it.
    languages: tuple[str, ...] | None = None


@dataclass
class ImportReport:
    list_name: str
    appended: bool
    rows: int = 0
    imported: int = 0
    updated: int = 0  # members already on the list whose fields the file changed
    invalid: int = 0
    duplicates: int = 0
    suppressed: int = 0
    encoding: str = ""
    delimiter: str = ""
    fields: list[str] = field(default_factory=list)
    # The columns that order sending, most engaged first (none: the file's order).
    ordering_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rejected_path: Path | None = None

    @property
    def rejected(self) -> int:
        return self.invalid + self.duplicates + self.suppressed

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


_COLUMNS = (
    "list_id",
    "address",
    "provider",
    "fields",
    "engagement",
    "last_engaged_at",
    "source_line",
)


Row = tuple[Any, ...]  # values of _COLUMNS, in order; the fields already as JSON


def _insert(connection: Connection, rows: list[Row]) -> None:
    """A batch of recipients: ``COPY`` on PostgreSQL, one DB-API executemany on SQLite. Both
    below SQLAlchemy's per-row parameter handling, which cost more than the rest of an
    import's own work; the column types' own bind processors still convert each value."""
    if not rows:
        return
    raw = connection.connection.driver_connection
    assert raw is not None  # a live connection inside the import's transaction
    if connection.dialect.name == "postgresql":
        statement = f"COPY recipients ({', '.join(_COLUMNS)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    convert = [
        None if column == "fields" else f  # already JSON
        for column, f in zip(_COLUMNS, _converters(connection), strict=True)
    ]
    placeholders = ", ".join("?" for _ in _COLUMNS)
    raw.cursor().executemany(
        f"INSERT INTO recipients ({', '.join(_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
        [
            tuple(v if f is None or v is None else f(v) for v, f in zip(row, convert, strict=True))
            for row in rows
        ],
    )


def _converters(connection: Connection) -> list[Callable[[Any], Any] | None]:
    """Each column's bind processor on this dialect (None: the value goes as it is)."""
    table = Recipient.__table__
    dialect = connection.dialect
    return [
        table.c[column].type.dialect_impl(dialect).bind_processor(dialect) for column in _COLUMNS
    ]


class ListImporter:
    def __init__(self, database: Database, limits: ImportLimits = ImportLimits()) -> None:
        self._db = database
        self._limits = limits

    def run(
        self,
        path: Path,
        name: str,
        *,
        options: ImportOptions,
        rejected_path: Path,
        actor: str,
        at: datetime,
        progress: Progress | None = None,
    ) -> ImportReport:
        check_list_name(name)
        if options.languages is not None:
            options = replace(options, languages=declared_languages(options.languages))
        size = path.stat().st_size
        if size > self._limits.max_bytes:
            raise ImportFailure(
                f"{path.name} is {size:,} bytes; the limit is {self._limits.max_bytes:,}"
            )
        started = time.perf_counter()
        source = CsvSource(
            path,
            encoding=options.encoding,
            delimiter=options.delimiter,
            max_line_bytes=self._limits.max_line_bytes,
        )
        # A full collection walks every object the process holds (its modules: hundreds of
        # thousands), and a big import, allocating rows by the million, triggers many: what
        # was there before is frozen out of them for the import's length (its own garbage is
        # still collected). A fifth of a million-row import's time otherwise.
        with frozen_heap(), contextlib.closing(source):
            source.open()
            columns = FieldMap.from_header(source.header, source.email_column(options.email_column))
            # A report left from an earlier import to the same path would describe other rows.
            rejected_path.unlink(missing_ok=True)
            with (
                self._db.engine.begin() as connection,
                RejectedRows(rejected_path, source.raw_header) as rejected,
            ):
                report = self._import(
                    connection, source, columns, name, options, rejected, actor, at, progress
                )
        report.encoding = source.encoding or "utf-8"
        report.delimiter = source.delimiter or ","
        report.seconds = time.perf_counter() - started
        report.rejected_path = rejected_path if report.rejected else None
        return report

    def _import(
        self,
        connection: Connection,
        source: CsvSource,
        columns: FieldMap,
        name: str,
        options: ImportOptions,
        rejected: RejectedRows,
        actor: str,
        at: datetime,
        progress: Progress | None,
    ) -> ImportReport:
        existing = connection.execute(select(ContactList).where(ContactList.name == name)).first()
        if existing is None:
            list_id = connection.execute(
                insert(ContactList).values(
                    name=name,
                    created_at=at,
                    created_by=actor,
                    fields=columns.personalisation,
                    size=EMPTY.size,
                    filled=EMPTY.filled,
                    languages=list(options.languages) if options.languages else None,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        else:
            list_id = existing.id
            if options.languages is not None:
                connection.execute(
                    update(ContactList)
                    .where(ContactList.id == list_id)
                    .values(languages=list(options.languages) or None)
                )
        report = ImportReport(
            list_name=name,
            appended=existing is not None,
            fields=columns.personalisation,
            ordering_columns=columns.ordering_columns,
        )
        seen: dict[str, int] = {}
        # With --update, the members' fields as they are, to update only those that change.
        known_fields: dict[str, dict[str, Any]] = {}
        changed: list[dict[str, Any]] = []
        if existing is not None:
            for known, known_row_fields in connection.execute(
                select(Recipient.address, Recipient.fields).where(Recipient.list_id == list_id)
            ):
                seen[known] = 0  # 0: already in the list before this import
                if options.update:
                    known_fields[known] = known_row_fields
        suppressed = self._suppressed(connection, at)
        tally = FilledTally(columns.personalisation)
        batch: list[Row] = []
        in_flight: deque[list[tuple[int, list[str]]]] = deque()

        def rows() -> Iterator[list[list[str]]]:
            for chunk in self._chunks(source, report):
                in_flight.append(chunk)
                yield [values for _, values in chunk]

        processes = None if source.path.stat().st_size > POOL_ABOVE_BYTES else 1
        work = partial(prepare_rows, columns=columns, check_mx=options.check_mx)
        with ChunkPool(work, processes=processes) as pool:
            for results in pool.map(rows()):
                for (line, values), prepared in zip(in_flight.popleft(), results, strict=True):
                    address = prepared[0]
                    if address is not None and seen.get(address) == 0 and options.update:
                        seen[address] = line  # a second row for it is a duplicate of this one
                        fields = json.loads(prepared[3])
                        if fields != known_fields[address]:
                            changed.append({"member": address, "new_fields": fields})
                        continue
                    reason = self._check(values, line, prepared, columns, seen, suppressed, report)
                    if reason:
                        rejected.add(line, reason, values)
                        continue
                    address, _, provider, fields, engagement, last_engaged, filled = prepared
                    batch.append(
                        (list_id, address, provider, fields, engagement, last_engaged, line)
                    )
                    tally.add(filled)
                    if len(batch) >= BATCH:
                        self._flush(connection, batch, report, source, progress)
        self._flush(connection, batch, report, source, progress)
        if report.rows == 0:
            raise ImportFailure(f"{source.path.name} has a header but no rows")
        add_written(connection, list_id, tally.measure())
        if changed:
            _update_fields(connection, list_id, changed)
            report.updated = len(changed)
            remeasure(connection, list_id)  # a field may have been filled or emptied
        audit.record(
            connection,
            "list",
            name,
            "import",
            actor=actor,
            at=at,
            reason=(
                f"{source.path.name}: {report.imported:,} imported, "
                + (f"{report.updated:,} updated, " if options.update else "")
                + f"{report.rejected:,} rejected"
            ),
            details={
                "rows": report.rows,
                "imported": report.imported,
                "updated": report.updated,
                "invalid": report.invalid,
                "duplicates": report.duplicates,
                "suppressed": report.suppressed,
            },
        )
        return report

    def _chunks(
        self, source: CsvSource, report: ImportReport
    ) -> Iterator[list[tuple[int, list[str]]]]:
        chunk: list[tuple[int, list[str]]] = []
        for line, values in source.records():
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            report.rows += 1
            if report.rows > self._limits.max_rows:
                raise ImportFailure(f"more than {self._limits.max_rows:,} rows; split the file")
            chunk.append((line, values))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _check(
        self,
        values: list[str],
        line: int,
        prepared: Prepared,
        columns: FieldMap,
        seen: dict[str, int],
        suppressed: dict[str, str],
        report: ImportReport,
    ) -> str:
        """Why the row is not imported ("": it is)."""
        if len(values) > len(columns.header):
            report.invalid += 1
            return f"{len(values)} fields, but the header has {len(columns.header)}"
        address, reason = prepared[0], prepared[1]
        if address is None:
            report.invalid += 1
            return reason
        if address in seen:
            report.duplicates += 1
            first = seen[address]
            return "already in the list" if first == 0 else f"duplicate of line {first}"
        seen[address] = line
        if address in suppressed:
            report.suppressed += 1
            return f"suppressed ({suppressed[address]})"
        return ""

    def _suppressed(self, connection: Connection, at: datetime) -> dict[str, str]:
        rows = connection.execute(
            select(Suppression.address, Suppression.reason).where(active_at(at))
        )
        return {address: reason for address, reason in rows}

    def _flush(
        self,
        connection: Connection,
        batch: list[Row],
        report: ImportReport,
        source: CsvSource,
        progress: Progress | None,
    ) -> None:
        _insert(connection, batch)
        report.imported += len(batch)
        batch.clear()
        if progress is not None:
            progress(source.bytes_read, report.rows)


def _update_fields(connection: Connection, list_id: int, changed: list[dict[str, Any]]) -> None:
    """Members' new fields, in batches of one executemany each."""
    statement = (
        update(Recipient)
        .where(Recipient.list_id == list_id, Recipient.address == bindparam("member"))
        .values(fields=bindparam("new_fields"))
    )
    for start in range(0, len(changed), BATCH):
        connection.execute(statement, changed[start : start + BATCH])


def check_list_name(name: str) -> None:
    if not name.strip() or len(name) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ImportFailure(f"list name {name!r}: 1 to 200 characters, no control characters")


def new_list(
    connection: Connection, *, name: str, fields: list[str], actor: str, at: datetime
) -> int:
    """An empty list in the caller's transaction (a derived list's, a relay stream's)."""
    check_list_name(name)
    if connection.scalar(select(ContactList.id).where(ContactList.name == name)) is not None:
        raise ImportFailure(f"a list named {name!r} already exists")
    return int(
        connection.execute(
            insert(ContactList).values(
                name=name,
                created_at=at,
                created_by=actor,
                fields=fields,
                size=EMPTY.size,
                filled=EMPTY.filled,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )


def derive_list(
    connection: Connection,
    *,
    name: str,
    source_list_id: int,
    recipient_ids: Select[tuple[int]],
    actor: str,
    at: datetime,
    reason: str,
) -> tuple[int, int]:
    """A new list holding some recipients of another (a retry's), with their fields and
    engagement, in the caller's transaction; return (its id, how many recipients)."""
    fields = connection.scalar(select(ContactList.fields).where(ContactList.id == source_list_id))
    list_id = new_list(connection, name=name, fields=fields or [], actor=actor, at=at)
    columns = ("address", "provider", "fields", "engagement", "last_engaged_at", "source_line")
    connection.execute(
        insert(Recipient).from_select(
            ["list_id", *columns],
            select(literal(list_id), *(getattr(Recipient, c) for c in columns)).where(
                Recipient.id.in_(recipient_ids)
            ),
        )
    )
    # Counted, not rowcount: SQLite's driver reports -1 for INSERT … SELECT.
    measure = remeasure(connection, list_id)
    audit.record(connection, "list", name, "derive", actor=actor, at=at, reason=reason)
    return int(list_id), measure.size


def delete_list(database: Database, name: str, *, actor: str, at: datetime) -> int:
    """Delete a list and its recipients; return how many. Refused while any campaign uses the
    list: its reports, retries and A/B test read its rows."""
    with database.engine.begin() as connection:
        list_id = connection.scalar(select(ContactList.id).where(ContactList.name == name))
        if list_id is None:
            raise NotFoundError(f"no list {name!r} (see: warmup lists show)")
        users = connection.scalars(
            select(Campaign.name).where(Campaign.list_id == list_id).order_by(Campaign.name)
        ).all()
        if users:
            raise ConflictError(
                f"list {name} is used by campaign(s) {', '.join(users)}: it stays while they do"
            )
        removed = connection.execute(delete(Recipient).where(Recipient.list_id == list_id))
        connection.execute(delete(ContactList).where(ContactList.id == list_id))
        count = int(removed.rowcount or 0)
        audit.record(
            connection, "list", name, "delete", actor=actor, at=at,
            reason=f"{count:,} recipients deleted",
        )  # fmt: skip
    return count


@dataclass(frozen=True)
class Engaged:
    """One open or click of a sent message, as the intake kept it."""

    message_id: str
    address: str
    points: float
    at: datetime


def add_engagement(connection: Connection, engaged: Sequence[Engaged]) -> None:
    """Raise the engagement of the recipients who opened or clicked, on the list of the
    campaign that sent them the message, in the caller's transaction (the intake's): the next
    campaign on that list ranks them first (clicks weigh more than opens)."""
    if not engaged:
        return
    lists = (
        select(Campaign.list_id)
        .join(LedgerRow, LedgerRow.campaign_id == Campaign.id)
        .where(LedgerRow.message_id == bindparam("m_id"), LedgerRow.address == bindparam("addr"))
        .scalar_subquery()
    )
    connection.execute(
        update(Recipient)
        .where(Recipient.address == bindparam("addr"), Recipient.list_id == lists)
        .values(
            engagement=func.coalesce(Recipient.engagement, 0.0) + bindparam("points"),
            last_engaged_at=case(
                (
                    or_(
                        Recipient.last_engaged_at.is_(None),
                        Recipient.last_engaged_at < bindparam("at"),
                    ),
                    bindparam("at"),
                ),
                else_=Recipient.last_engaged_at,
            ),
        )
        .execution_options(synchronize_session=False),
        [
            {"m_id": e.message_id, "addr": e.address, "points": e.points, "at": e.at}
            for e in engaged
        ],
    )


def keep(connection: Connection, list_id: int, measure: ListMeasure) -> None:
    connection.execute(
        update(ContactList)
        .where(ContactList.id == list_id)
        .values(size=measure.size, filled=measure.filled)
    )


def add_written(connection: Connection, list_id: int, written: ListMeasure) -> None:
    """Count recipients just written to a list, in the writer's transaction. The list's row
    is locked for the read and the write, so two imports appending at once add up."""
    before = stored(connection, list_id, lock=True)
    if before is None:
        remeasure(connection, list_id)  # its older rows too
    else:
        keep(connection, list_id, before.plus(written))


def remeasure(connection: Connection, list_id: int) -> ListMeasure:
    """Bring a list up to date from its rows, and keep its figures: a derived list, or one
    written before its figures (or its recipients' provider groups) were kept."""
    backfill_providers(connection, list_id)
    measure = from_rows(connection, list_id)
    keep(connection, list_id, measure)
    return measure


def measure_of(connection: Connection, list_id: int) -> ListMeasure:
    """The list's figures: as kept, or measured from its rows now and kept from then on."""
    found = stored(connection, list_id)
    return remeasure(connection, list_id) if found is None else found


def backfill_providers(connection: Connection, list_id: int) -> None:
    """Provider groups for recipients imported before they were worked out at import (schema
    0011): such lists are older than their figures too, so this runs when they are measured."""
    missing = connection.execute(
        select(Recipient.id, Recipient.address).where(
            Recipient.list_id == list_id, Recipient.provider.is_(None)
        )
    ).all()
    if missing:
        connection.execute(
            update(Recipient)
            .where(Recipient.id == bindparam("r_id"))
            .values(provider=bindparam("r_provider")),
            [{"r_id": i, "r_provider": provider_group(a).value} for i, a in missing],
        )
