"""``/api/lists``: marketing uploads recipient lists; anyone with a token sees them.

An upload is multipart (``file`` plus ``name`` and optional CSV options). The body is counted
while it streams in and refused with 413 past ``WARMUP_API_UPLOAD_MAX_BYTES``, before anything
is imported; the parser spools the file to disk, so memory stays small whatever the size. The
import is the CLI's (atomic, validated, de-duplicated); its rejected-rows report is kept in the
store with the import, so that marketing downloads it from whichever replica answers.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from warmup.api.auth import Caller, Marketing
from warmup.api.list_jobs import ImportJobOut, Job, job_json, job_out
from warmup.api.services import Found
from warmup.content.page_languages import declared_languages
from warmup.lists.importer import ImportOptions, delete_list
from warmup.lists.jobs import ImportJobs
from warmup.views.lists import ListDetailOut, ListOut, all_lists, list_detail_out

router = APIRouter(prefix="/api/lists", tags=["lists"])
log = logging.getLogger(__name__)
REPORT_ID = re.compile(r"^[0-9a-f]{32}$")
FORM_FIELDS = ("name", "encoding", "delimiter", "email_column")


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


@router.get("")
def lists(_: Caller, found: Found) -> list[ListOut]:
    return all_lists(found.database)


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
    update: Annotated[
        bool, Query(description="Members already on the list take the file's fields.")
    ] = False,
    languages: Annotated[
        str | None,
        Query(
            description="The languages the list's recipients read, comma-separated (en, fr, "
            "de, es): their unsubscribe pages come in these only. On a re-import, replaces "
            "what the list declared.",
            max_length=100,
        ),
    ] = None,
) -> JSONResponse:
    """Import a CSV into a list (created, or appended to if the name exists).

    The file is received (413 past the limit), then imported in the background: the answer is
    202 with the import to follow at ``Location``. With ``wait=true`` the answer comes when the
    import is done (201), and a file the importer refuses is 422.
    """
    # Checked before the upload is read: a wrong language is a 422 at once.
    spoken = declared_languages([languages]) if languages is not None else None
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
        ImportOptions(
            values["encoding"],
            values["delimiter"],
            values["email_column"],
            update=update,
            languages=spoken,
        ),
        who.actor,
    )
    await run_in_threadpool(job.start)
    location = {"Location": f"/api/lists/imports/{job_id}"}
    if wait:
        await run_in_threadpool(job.run, reraise=True)
        return JSONResponse(job_json(found, job_id), status_code=201, headers=location)
    background.add_task(job.run)
    return JSONResponse(job_json(found, job_id), status_code=202, headers=location)


@router.get("/imports")
def imports(
    _: Caller, found: Found, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[ImportJobOut]:
    """Recent imports, newest first, with their progress."""
    now = found.clock.now()
    return [job_out(job, now) for job in ImportJobs(found.database).recent(limit)]


@router.get("/imports/{job_id}")
def import_status(job_id: str, _: Caller, found: Found) -> ImportJobOut:
    """One import: progress while it runs, then its report (or why it failed)."""
    return job_out(ImportJobs(found.database).get(job_id), found.clock.now())


def _copy(upload_file: UploadFile, target: Path) -> None:
    upload_file.file.seek(0)
    with target.open("wb") as out:
        shutil.copyfileobj(upload_file.file, out, 1024**2)


@router.get("/rejected/{report_id}")
def rejected_report(report_id: str, request: Request, _: Marketing, found: Found) -> Response:
    """The rows an import left out, with line numbers and reasons (CSV), from any replica."""
    if not REPORT_ID.match(report_id):
        raise HTTPException(404, "no such rejected-rows report")
    packed = ImportJobs(found.database).rejected_rows(report_id)
    headers = {"Content-Disposition": f'attachment; filename="rejected-{report_id}.csv"'}
    if "gzip" in request.headers.get("accept-encoding", ""):
        # As stored: the client unpacks it.
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="text/csv", headers=headers)
    return StreamingResponse(_unpacked(packed), media_type="text/csv", headers=headers)


def _unpacked(packed: bytes) -> Iterator[bytes]:
    with gzip.GzipFile(fileobj=io.BytesIO(packed)) as source:
        yield from iter(lambda: source.read(1024**2), b"")


@router.get("/{name}")
def list_detail(
    name: str, _: Caller, found: Found, sample: Annotated[int, Query(ge=0, le=50)] = 5
) -> ListDetailOut:
    """One list: its size, how many rows carry each field, and its first rows by engagement."""
    return list_detail_out(found.database, name, sample)


@router.delete("/{name}", status_code=204)
def delete(name: str, who: Marketing, found: Found) -> None:
    """Delete a list and its recipients: 409 while a campaign uses it."""
    delete_list(found.database, name, actor=who.actor, at=found.clock.now())
