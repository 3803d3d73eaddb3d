"""``/api/audit``: the audit log, newest first: who changed what (domain, campaign, list,
suppression, token), when and why. Anyone with a token may read it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from warmup.api.auth import Caller
from warmup.api.services import Services, services
from warmup.store.models import AuditEntry

router = APIRouter(prefix="/api", tags=["audit"])
Found = Annotated[Services, Depends(services)]
Limit = Annotated[int, Query(ge=1, le=1000)]
SubjectType = Literal["domain", "campaign", "list", "suppression", "token"]


class AuditOut(BaseModel):
    at: datetime
    actor: str
    subject_type: str
    subject: str
    action: str
    reason: str


def audit_out(entry: AuditEntry) -> AuditOut:
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
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if subject_type is not None:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    with found.database.session() as session:
        return [audit_out(entry) for entry in session.scalars(query)]
