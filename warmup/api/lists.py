"""``/api/lists``: marketing uploads recipient lists; anyone with a token sees them.

An upload is multipart (``file`` plus ``name`` and optional CSV options). The body is counted
while it streams in and refused with 413 past ``WARMUP_API_UPLOAD_MAX_BYTES``, before anything
is imported; the parser spools the file to disk, so memory stays small whatever the size. The
import is the CLI's (atomic, validated, de-duplicated); its rejected-rows report is kept under
the data directory and downloadable by marketing.
"""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.types import Message

from warmup.api.auth import Caller, Marketing
from warmup.api.services import Services, services
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.store.models import ContactList, Recipient

router = APIRouter(prefix="/api/lists", tags=["lists"])
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
    status_code=201,
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
    responses={413: {"description": "The upload is larger than the limit."}},
)
async def upload(request: Request, who: Marketing, found: Found) -> ImportOut:
    """Import a CSV into a list (created, or appended to if the name exists)."""
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
        options = {k: v if isinstance(v, str) and v else None for k, v in fields.items()}
        report_id = uuid.uuid4().hex
        spooled = found.settings.api_data_dir / "uploads" / f"{report_id}.csv"
        spooled.parent.mkdir(parents=True, exist_ok=True)
        try:
            await run_in_threadpool(_copy, upload_file, spooled)
            report = await run_in_threadpool(
                ListImporter(found.database).run,
                spooled,
                name.strip(),
                options=ImportOptions(
                    options["encoding"], options["delimiter"], options["email_column"]
                ),
                rejected_path=_report_dir(found) / f"{report_id}.csv",
                actor=who.actor,
                at=found.clock.now(),
            )
        finally:
            spooled.unlink(missing_ok=True)
    finally:
        await form.close()
    return ImportOut(
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
        rejected_report=f"/api/lists/rejected/{report_id}",
    )


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
