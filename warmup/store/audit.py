"""The audit log's one way of writing an entry: who did what to which thing, when and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from warmup.store.models import AuditEntry


def audit_values(
    subject_type: str,
    subject: str,
    action: str,
    *,
    actor: str,
    reason: str,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Column values of an entry, for ``insert(AuditEntry).values(...)`` or ``AuditEntry(...)``."""
    return {
        "subject_type": subject_type,
        "subject": subject,
        "action": action,
        "actor": actor,
        "reason": reason,
        "at": at,
        "details": details or {},
    }


def audit_entry(subject_type: str, subject: str, action: str, **fields: Any) -> AuditEntry:
    return AuditEntry(**audit_values(subject_type, subject, action, **fields))
