"""Imports run in the background: their progress and outcome, kept in the store.

The API answers an upload at once and imports afterwards; anyone may then follow the import
(bytes and rows read so far, then the report or the error) from any API replica. Progress is
written at most once a second (not on SQLite: see ``progress_writer``). An import whose process
died stays "running" in the table; it is shown as "interrupted" once it has made no progress
for ``STALE_AFTER``. The rejected rows are kept with the import, compressed and bounded
(``compressed_report``), so that the replica that answers a download need not be the one that
imported.
"""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from warmup.errors import NotFoundError
from warmup.lists.importer import Progress
from warmup.store.database import Database
from warmup.store.models import ListImport

STALE_AFTER = timedelta(minutes=5)
WRITE_EVERY = 1.0  # seconds between progress writes


def compressed_report(path: Path, limit: int) -> tuple[bytes, bool]:
    """The CSV at ``path`` gzip-compressed in at most ``limit`` bytes, and whether all of it is.

    Whole lines only: past the limit the report ends at the last line that fitted (the header
    first), and the answer says it is incomplete. A report of millions of rejected rows costs at
    most ``limit`` bytes in memory and in the store.
    """
    out = io.BytesIO()
    pending = 0  # bytes written since the last flush: an upper bound of what they compress to
    complete = True
    with path.open("rb") as source, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as packed:
        for line in source:
            if out.tell() + pending + len(line) + _SLACK > limit:
                # Near the limit: flush, so that what is out is exact, and check again.
                packed.flush()
                pending = 0
                if out.tell() + len(line) + _SLACK > limit:
                    complete = False
                    break
            packed.write(line)
            pending += len(line)
    return out.getvalue(), complete


# Room for deflate's block headers and the gzip trailer after the last line, packed or not.
_SLACK = 1024


@dataclass(frozen=True)
class ImportJob:
    """One upload's import as read: what leaves this module instead of the ORM row."""

    id: str
    list_name: str
    status: str  # running, done, failed
    bytes_total: int
    bytes_read: int
    rows_read: int
    report: dict[str, Any]
    error: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: ListImport) -> ImportJob:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


class ImportJobs:
    def __init__(self, database: Database) -> None:
        self._db = database

    def start(
        self, job_id: str, list_name: str, *, bytes_total: int, actor: str, at: datetime
    ) -> ImportJob:
        job = ListImport(
            id=job_id,
            list_name=list_name,
            status="running",
            bytes_total=bytes_total,
            bytes_read=0,
            rows_read=0,
            report={},
            created_by=actor,
            created_at=at,
            updated_at=at,
        )
        with self._db.session() as session:
            session.add(job)
            return ImportJob.of(job)

    def progress_writer(self, job_id: str, now: Callable[[], datetime]) -> Progress:
        """A callback for the importer's progress that writes at most every WRITE_EVERY s.

        SQLite has one writer at a time and the import's own transaction is it, so there the
        progress is not written (it would wait for the import): it shows at the end.
        """
        last = 0.0
        if self._db.engine.dialect.name == "sqlite":
            return lambda bytes_read, rows_read: None

        def write(bytes_read: int, rows_read: int) -> None:
            nonlocal last
            if time.monotonic() - last < WRITE_EVERY:
                return
            last = time.monotonic()
            self._set(job_id, bytes_read=bytes_read, rows_read=rows_read, updated_at=now())

        return write

    def finish(
        self,
        job_id: str,
        report: dict[str, Any],
        rows: int,
        at: datetime,
        rejected_rows: bytes | None = None,
    ) -> None:
        """The import done, with its report and its rejected rows (``compressed_report``)."""
        self._set(
            job_id,
            status="done",
            report=report,
            rejected_rows=rejected_rows,
            bytes_read=ListImport.bytes_total,
            rows_read=rows,
            updated_at=at,
            finished_at=at,
        )

    def fail(self, job_id: str, error: str, at: datetime) -> None:
        self._set(job_id, status="failed", error=error, updated_at=at, finished_at=at)

    def _set(self, job_id: str, **values: Any) -> None:
        with self._db.session() as session:
            session.execute(update(ListImport).where(ListImport.id == job_id).values(**values))

    def get(self, job_id: str) -> ImportJob:
        with self._db.session() as session:
            job = session.get(ListImport, job_id)
            if job is None:
                raise NotFoundError(f"no import {job_id!r}")
            return ImportJob.of(job)

    def rejected_rows(self, job_id: str) -> bytes:
        """An import's rejected rows, gzip-compressed CSV: NotFoundError if it kept none."""
        query = select(ListImport.rejected_rows).where(ListImport.id == job_id)
        with self._db.session() as session:
            found = session.scalar(query)
        if found is None:
            raise NotFoundError(f"no rejected-rows report for import {job_id!r}")
        return found

    def recent(self, limit: int = 20) -> list[ImportJob]:
        with self._db.session() as session:
            query = select(ListImport).order_by(ListImport.created_at.desc()).limit(limit)
            return [ImportJob.of(job) for job in session.scalars(query)]


def shown_status(job: ImportJob, now: datetime) -> str:
    # Only a job that has written progress can be seen to stop (SQLite writes none).
    stalled = job.bytes_read > 0 and now - job.updated_at > STALE_AFTER
    return "interrupted" if job.status == "running" and stalled else job.status
