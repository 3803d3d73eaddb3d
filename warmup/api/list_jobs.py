"""List imports behind the API: one upload's job, its progress and report in API shapes."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from warmup.api.services import Services
from warmup.errors import WarmupError
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.lists.jobs import ImportJob, ImportJobs, compressed_report, shown_status

log = logging.getLogger("warmup.api.lists")


class ImportOut(BaseModel):
    list_name: str
    appended: bool
    rows: int
    imported: int
    updated: int = 0  # members whose fields the file changed (with update=true)
    rejected: int
    invalid: int
    duplicates: int
    suppressed: int
    encoding: str
    delimiter: str
    fields: list[str]
    ordering_columns: list[str] = []  # what orders sending, most engaged first (none: file order)
    seconds: float
    rejected_report: str | None  # where to download the rejected rows (none if none were)
    # False: the download holds the first rejected rows only (WARMUP_API_REPORT_MAX_BYTES).
    rejected_report_complete: bool = True


class ImportJobOut(BaseModel):
    id: str
    list_name: str
    status: str  # running, done, failed, interrupted
    bytes_total: int
    bytes_read: int
    rows_read: int
    progress: float  # bytes read / bytes total
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    report: ImportOut | None


def report_dir(found: Services) -> Path:
    """Where an import writes its rejected rows before they go into the store with it."""
    folder = found.settings.api_data_dir / "rejected"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Job:
    """One upload's import: recorded, run (now or in the background), its file removed after."""

    def __init__(
        self,
        found: Services,
        job_id: str,
        path: Path,
        name: str,
        options: ImportOptions,
        actor: str,
    ) -> None:
        self.found, self.job_id, self.path, self.name = found, job_id, path, name
        self.options, self.actor = options, actor
        self.jobs = ImportJobs(found.database)

    def start(self) -> None:
        self.jobs.start(
            self.job_id,
            self.name,
            bytes_total=self.path.stat().st_size,
            actor=self.actor,
            at=self.found.clock.now(),
        )

    def run(self, reraise: bool = False) -> None:
        clock = self.found.clock
        rejected_path = report_dir(self.found) / f"{self.job_id}.csv"
        try:
            report = ListImporter(self.found.database).run(
                self.path,
                self.name,
                options=self.options,
                rejected_path=rejected_path,
                actor=self.actor,
                at=clock.now(),
                progress=self.jobs.progress_writer(self.job_id, clock.now),
            )
            rejected, complete = (
                compressed_report(rejected_path, self.found.settings.api_report_max_bytes)
                if report.rejected_path
                else (None, True)
            )
        except Exception as exc:  # recorded for the people waiting, whatever it was
            if isinstance(exc, WarmupError):
                error = str(exc)  # our own errors say what is wrong with the file
            else:
                log.exception("import %s failed", self.job_id)  # for whoever fixes it
                error = f"internal error ({type(exc).__name__}); see the API's log"
            self.jobs.fail(self.job_id, error, clock.now())
            if reraise:
                raise
            return
        finally:
            self.path.unlink(missing_ok=True)
            rejected_path.unlink(missing_ok=True)
        out = ImportOut(
            list_name=report.list_name,
            appended=report.appended,
            rows=report.rows,
            imported=report.imported,
            updated=report.updated,
            rejected=report.rejected,
            invalid=report.invalid,
            duplicates=report.duplicates,
            suppressed=report.suppressed,
            encoding=report.encoding,
            delimiter=report.delimiter,
            fields=report.fields,
            ordering_columns=report.ordering_columns,
            seconds=round(report.seconds, 3),
            rejected_report=f"/api/lists/rejected/{self.job_id}" if rejected else None,
            rejected_report_complete=complete,
        )
        self.jobs.finish(self.job_id, out.model_dump(), report.rows, clock.now(), rejected)


def job_out(job: ImportJob, now: datetime) -> ImportJobOut:
    return ImportJobOut(
        id=job.id,
        list_name=job.list_name,
        status=shown_status(job, now),
        bytes_total=job.bytes_total,
        bytes_read=job.bytes_read,
        rows_read=job.rows_read,
        progress=round(job.bytes_read / job.bytes_total, 4) if job.bytes_total else 1.0,
        created_by=job.created_by,
        created_at=job.created_at,
        finished_at=job.finished_at,
        error=job.error,
        report=ImportOut.model_validate(job.report) if job.report else None,
    )


def job_json(found: Services, job_id: str) -> dict[str, Any]:
    job = ImportJobs(found.database).get(job_id)
    return job_out(job, found.clock.now()).model_dump(mode="json")
