"""``/api/audit``: the audit log, newest first: who changed what (domain, campaign, list,
suppression, token), when and why. Anyone with a token may read it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from warmup.api.auth import Caller
from warmup.api.services import Found
from warmup.audit import AuditFilter, AuditLog, AuditRecord

router = APIRouter(prefix="/api", tags=["audit"])
Limit = Annotated[int, Query(ge=1, le=1000)]
SubjectType = Literal["domain", "campaign", "list", "suppression", "token"]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    subject_type: str
    subject: str
    action: str
    reason: str


def audit_out(entry: AuditRecord) -> AuditOut:
    return AuditOut.model_validate(entry, from_attributes=True)


@router.get("/audit")
def audit(
    _: Caller,
    found: Found,
    subject_type: SubjectType | None = None,
    subject: Annotated[str | None, Query(max_length=320)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 100,
) -> list[AuditOut]:
    where = AuditFilter(subject_type=subject_type, subject=subject, actor=actor)
    return [audit_out(entry) for entry in AuditLog(found.database).newest(where, limit)]
