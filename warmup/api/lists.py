"""``/api/lists``: marketing uploads recipient lists; anyone with a token sees them.

An upload is multipart (``file`` plus ``name`` and optional CSV options). The body is counted
while it streams in and refused with 413 past ``WARMUP_API_UPLOAD_MAX_BYTES``, before anything
is imported; the parser spools the file to disk, so memory stays small whatever the size. The
import is the CLI's (atomic, validated, de-duplicated); its rejected-rows report is kept under
the data directory and downloadable by marketing.
"""

from __future__ import annotations

import logging
import re
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from warmup.api.auth import Caller, Marketing
from warmup.api.services import Services, services
from warmup.errors import WarmupError
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.lists.jobs import ImportJobs, shown_status
from warmup.store.models import ContactList, ListImport, Recipient

router = APIRouter(prefix="/api/lists", tags=["lists"])
log = logging.getLogger(__name__)
REPORT_ID = re.compile(r"^[0-9a-f]{32}$")
FORM_FIELDS = ("name", "encoding", "delimiter", "email_column")
Found = Annotated[Services, Depends(services)]


class ListOut(BaseModel):
    name: str
    recipients: int
    fields: list[str]
    created_at: datetime
    created_by: str


class ImportOut(BaseModel):
    list_name: str
    appended: bool
    rows: int
    imported: int
    rejected: int
    invalid: int
    duplicates: int
    suppressed: int
    encoding: str
    delimiter: str
    fields: list[str]
    seconds: float
    rejected_report: str  # where to download the rejected rows


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


class _TooLarge(Exception):
    pass


def _limited(request: Request, limit: int) -> Request:
    """The same request, whose body stops with _TooLarge once more than ``limit`` bytes came."""
    seen = 0

    async def receive() -> Message:
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return message

    return Request(request.scope, receive)


def _report_dir(found: Services) -> Path:
    folder = found.settings.api_data_dir / "rejected"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@router.get("")
def all_lists(_: Caller, found: Found) -> list[ListOut]:
    with found.database.session() as session:
        counts = dict(
            session.execute(
                select(Recipient.list_id, func.count()).group_by(Recipient.list_id)
            ).all()
        )
        return [
            ListOut(
                name=item.name,
                recipients=counts.get(item.id, 0),
                fields=item.fields,
                created_at=item.created_at,
                created_by=item.created_by,
            )
            for item in session.scalars(select(ContactList).order_by(ContactList.name))
        ]


@router.post(
    "",
    status_code=202,
    response_model=ImportJobOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "name"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string", "minLength": 1, "maxLength": 200},
                            "encoding": {"type": "string"},
                            "delimiter": {"type": "string"},
                            "email_column": {"type": "string"},
                        },
                    }
                }
            },
        }
    },
    responses={
        201: {"description": "Imported (with wait=true).", "model": ImportJobOut},
        413: {"description": "The upload is larger than the limit."},
    },
)
async def upload(
    request: Request,
    who: Marketing,
    found: Found,
    background: BackgroundTasks,
    wait: Annotated[bool, Query(description="Answer when the import is done (201).")] = False,
) -> JSONResponse:
    """Import a CSV into a list (created, or appended to if the name exists).

    The file is received (413 past the limit), then imported in the background: the answer is
    202 with the import to follow at ``Location``. With ``wait=true`` the answer comes when the
    import is done (201), and a file the importer refuses is 422.
    """
    limit = found.settings.api_upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the upload is larger than {limit:,} bytes")
    try:
        form = await _limited(request, limit).form(max_files=1, max_fields=len(FORM_FIELDS))
    except _TooLarge:
        raise HTTPException(413, f"the upload is larger than {limit:,} bytes") from None
    try:
        upload_file = form.get("file")
        fields: dict[str, Any] = {k: form.get(k) for k in FORM_FIELDS}
        name = fields["name"]
        if not isinstance(upload_file, UploadFile):
            raise HTTPException(422, "a multipart field 'file' with the CSV is required")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
            raise HTTPException(422, "a multipart field 'name' (1-200 characters) is required")
        values = {k: v if isinstance(v, str) and v else None for k, v in fields.items()}
        job_id = uuid.uuid4().hex
        spooled = found.settings.api_data_dir / "uploads" / f"{job_id}.csv"
        spooled.parent.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(_copy, upload_file, spooled)
    finally:
        await form.close()
    job = Job(
        found,
        job_id,
        spooled,
        name.strip(),
        ImportOptions(values["encoding"], values["delimiter"], values["email_column"]),
        who.actor,
    )
    await run_in_threadpool(job.start)
    location = {"Location": f"/api/lists/imports/{job_id}"}
    if wait:
        await run_in_threadpool(job.run, reraise=True)
        return JSONResponse(_job_json(found, job_id), status_code=201, headers=location)
    background.add_task(job.run)
    return JSONResponse(_job_json(found, job_id), status_code=202, headers=location)


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
        try:
            report = ListImporter(self.found.database).run(
                self.path,
                self.name,
                options=self.options,
                rejected_path=_report_dir(self.found) / f"{self.job_id}.csv",
                actor=self.actor,
                at=clock.now(),
                progress=self.jobs.progress_writer(self.job_id, clock.now),
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
        out = ImportOut(
            list_name=report.list_name,
            appended=report.appended,
            rows=report.rows,
            imported=report.imported,
            rejected=report.rejected,
            invalid=report.invalid,
            duplicates=report.duplicates,
            suppressed=report.suppressed,
            encoding=report.encoding,
            delimiter=report.delimiter,
            fields=report.fields,
            seconds=round(report.seconds, 3),
            rejected_report=f"/api/lists/rejected/{self.job_id}",
        )
        self.jobs.finish(self.job_id, out.model_dump(), report.rows, clock.now())


def _job_out(job: ListImport, now: datetime) -> ImportJobOut:
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


def _job_json(found: Services, job_id: str) -> dict[str, Any]:
    job = ImportJobs(found.database).get(job_id)
    return _job_out(job, found.clock.now()).model_dump(mode="json")


@router.get("/imports")
def imports(
    _: Caller, found: Found, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[ImportJobOut]:
    """Recent imports, newest first, with their progress."""
    now = found.clock.now()
    return [_job_out(job, now) for job in ImportJobs(found.database).recent(limit)]


@router.get("/imports/{job_id}")
def import_status(job_id: str, _: Caller, found: Found) -> ImportJobOut:
    """One import: progress while it runs, then its report (or why it failed)."""
    return _job_out(ImportJobs(found.database).get(job_id), found.clock.now())


def _copy(upload_file: UploadFile, target: Path) -> None:
    upload_file.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload_file.file, out, 1024**2)


@router.get("/rejected/{report_id}", response_class=FileResponse)
def rejected_report(report_id: str, _: Marketing, found: Found) -> FileResponse:
    """The rows an import left out, with line numbers and reasons (CSV)."""
    path = _report_dir(found) / f"{report_id}.csv"
    if not REPORT_ID.match(report_id) or not path.is_file():
        raise HTTPException(404, "no such rejected-rows report")
    return FileResponse(path, media_type="text/csv", filename=f"rejected-{report_id}.csv")
