"""The audit log: who did what to which thing, when and why.

This module alone writes ``audit_log``. Owners of other tables call :func:`record` inside their
own transaction, so a change and its entry are stored together or not at all. Reads for the API,
the CLI and the notifier go through :class:`AuditLog`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select
from sqlalchemy.orm import Session

from warmup.store.database import Database
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
    """Column values of an entry."""
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
    """An entry as an object (for seeding tests); the service writes through :func:`record`."""
    return AuditEntry(**audit_values(subject_type, subject, action, **fields))


def record(
    target: Session | Connection,
    subject_type: str,
    subject: str,
    action: str,
    *,
    actor: str,
    reason: str,
    at: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one entry in the caller's transaction."""
    record_all(
        target,
        [
            audit_values(
                subject_type, subject, action, actor=actor, reason=reason, at=at, details=details
            )
        ],
    )


def record_all(target: Session | Connection, entries: Iterable[dict[str, Any]]) -> None:
    """Write entries built by :func:`audit_values` in the caller's transaction."""
    rows = list(entries)
    if rows:
        target.execute(insert(AuditEntry), rows)


@dataclass(frozen=True)
class AuditRecord:
    """One entry as read: what leaves this module instead of the ORM row."""

    id: int
    at: datetime
    actor: str
    subject_type: str
    subject: str
    action: str
    reason: str
    details: dict[str, Any]


_RECORD_COLUMNS = (
    AuditEntry.id,
    AuditEntry.at,
    AuditEntry.actor,
    AuditEntry.subject_type,
    AuditEntry.subject,
    AuditEntry.action,
    AuditEntry.reason,
    AuditEntry.details,
)


@dataclass(frozen=True)
class AuditFilter:
    subject_type: str | None = None
    subject: str | None = None
    actor: str | None = None
    actions: tuple[str, ...] = ()
    after_id: int | None = None


class AuditLog:
    """Reading the log: newest first for people, by id for followers such as the notifier."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def newest(self, where: AuditFilter, limit: int) -> list[AuditRecord]:
        query = select(*_RECORD_COLUMNS).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        return self._records(_filtered(query, where).limit(limit))

    def oldest_first(self, where: AuditFilter) -> list[AuditRecord]:
        return self._records(_filtered(select(*_RECORD_COLUMNS), where).order_by(AuditEntry.id))

    def _records(self, query: Any) -> list[AuditRecord]:
        with self._db.engine.connect() as connection:
            return [AuditRecord(*row) for row in connection.execute(query)]

    def latest_id(self) -> int:
        with self._db.session() as session:
            return int(session.scalar(select(func.max(AuditEntry.id))) or 0)


def _filtered(query: Any, where: AuditFilter) -> Any:
    if where.subject_type is not None:
        query = query.where(AuditEntry.subject_type == where.subject_type)
    if where.subject is not None:
        query = query.where(AuditEntry.subject == where.subject)
    if where.actor is not None:
        # An API token's entries name it with its role ("token:ana (ops)"): its name alone
        # finds them too.
        query = query.where(
            or_(
                AuditEntry.actor == where.actor,
                AuditEntry.actor.startswith(f"{where.actor} (", autoescape=True),
            )
        )
    if where.actions:
        query = query.where(AuditEntry.action.in_(where.actions))
    if where.after_id is not None:
        query = query.where(AuditEntry.id > where.after_id)
    return query
