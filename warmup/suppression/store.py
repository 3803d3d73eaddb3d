"""The suppression list: addresses never to send to (for good, or until an expiry).

This module alone writes ``suppressions``. Delivery feedback (hard bounces, complaints),
unsubscribe links, ops and imports all suppress through it; list imports and campaign starts
read it through :func:`active_at`, the one rule for "in force at t". Every change is audited.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from warmup import audit
from warmup.addresses import InvalidAddress, address_key, normalise_address
from warmup.content.unsubscribe import Unsubscriber
from warmup.csvsafe import SafeCsvWriter, open_output
from warmup.errors import ConfigError
from warmup.ledger.fill import suppress_pending
from warmup.store.database import Database
from warmup.store.models import Suppression

LOOKUP_CHUNK = 1000  # addresses per IN (...) list: well inside every backend's parameter limit
# How strong each reason is: suppressing again with a weaker one keeps the stronger. Hard
# bounces and complaints are for good; an unsubscribe is the person's own wish.
STRENGTH = {
    "hard_bounce": 5,
    "complaint": 5,
    "unsubscribe": 4,
    "manual": 3,
    "imported": 2,
    "soft_bounce": 1,
}
REASONS = frozenset(STRENGTH)


@dataclass(frozen=True)
class SuppressionImport:
    added: int
    updated: int
    invalid: list[tuple[int, str]]


def active_at(at: datetime) -> ColumnElement[bool]:
    """A suppression is in force at ``at`` when it never expires or expires after ``at``."""
    return or_(Suppression.expires_at.is_(None), Suppression.expires_at > at)


def is_suppressed(
    address: ColumnElement[str] | InstrumentedAttribute[str], at: datetime
) -> ColumnElement[bool]:
    """A condition on an address column: suppressed at ``at`` (for set-based statements)."""
    return address.in_(select(Suppression.address).where(active_at(at)))


def _audit(
    session: Session, *, at: datetime, actor: str, action: str, address: str, reason: str
) -> None:
    audit.record_all(session, [_audited(at, actor, action, address, reason)])


def _audited(at: datetime, actor: str, action: str, address: str, reason: str) -> dict[str, Any]:
    return audit.audit_values("suppression", address, action, actor=actor, reason=reason, at=at)


def suppress_in(
    session: Session,
    address: str,
    *,
    reason: str,
    source: str,
    actor: str,
    at: datetime,
    expires_at: datetime | None = None,
    note: str = "",
) -> bool:
    """Suppress a normalised ``address`` in the caller's transaction, with its audit entry.

    True if it was not suppressed at ``at`` before. Suppressing again never weakens: the
    stronger reason stays (:data:`STRENGTH`), a permanent entry stays permanent and a temporary
    one is extended, never shortened; notes accumulate. An expired entry is replaced.
    """
    wanted = Suppress(address, reason, source, expires_at=expires_at, note=note)
    return bool(suppress_all_in(session, [wanted], actor=actor, at=at))


@dataclass(frozen=True)
class Suppress:
    """One suppression: a normalised address, why, from where; until when (None: for good)."""

    address: str
    reason: str
    source: str
    expires_at: datetime | None = None
    note: str = ""


def suppress_all_in(
    session: Session, wanted: Sequence[Suppress], *, actor: str, at: datetime
) -> int:
    """:func:`suppress_in` for each of ``wanted``, in the caller's transaction, with what is
    there already read in one statement a thousand addresses (a webhook batch's bounces, not
    one look-up each). Return how many were not suppressed at ``at`` before."""
    addresses = sorted({w.address for w in wanted})
    known: dict[str, Suppression] = {}
    for start in range(0, len(addresses), LOOKUP_CHUNK):
        chunk = addresses[start : start + LOOKUP_CHUNK]
        known |= {
            row.address: row
            for row in session.scalars(select(Suppression).where(Suppression.address.in_(chunk)))
        }
    added = 0
    entries: list[dict[str, Any]] = []
    for w in wanted:
        applied, known[w.address], entry = _suppress_one(
            session, known.get(w.address), w, actor=actor, at=at
        )
        added += applied
        entries += [entry] if entry else []
    audit.record_all(session, entries)
    return added


def _suppress_one(
    session: Session, existing: Suppression | None, wanted: Suppress, *, actor: str, at: datetime
) -> tuple[bool, Suppression, dict[str, Any] | None]:
    """Apply ``wanted`` to the address's entry (None: it has none): whether it was not in
    force at ``at`` before, its entry now, and the audit entry to record (None: no change)."""
    address, reason, source = wanted.address, wanted.reason, wanted.source
    expires_at, note = wanted.expires_at, wanted.note
    if existing is None:
        created = Suppression(
            address=address,
            reason=reason,
            source=source,
            created_at=at,
            expires_at=expires_at,
            note=note,
        )
        session.add(created)
        return True, created, _audited(at, actor, "suppress", address, f"{reason} ({source})")
    active = existing.expires_at is None or existing.expires_at > at
    before = (existing.reason, existing.source, existing.expires_at, existing.note)
    if not active:
        existing.reason, existing.source, existing.created_at = reason, source, at
        existing.expires_at = expires_at
    else:
        if STRENGTH.get(reason, 0) >= STRENGTH.get(existing.reason, 0):
            existing.reason, existing.source = reason, source
        if existing.expires_at is not None:
            existing.expires_at = (
                None if expires_at is None else max(existing.expires_at, expires_at)
            )
    if note and note not in existing.note.split("; "):
        existing.note = f"{existing.note}; {note}" if existing.note else note
    if (existing.reason, existing.source, existing.expires_at, existing.note) == before:
        return not active, existing, None
    why = f"{reason} ({source})" + ("" if active else ", after an expired entry")
    return not active, existing, _audited(at, actor, "suppress", address, why)


@dataclass(frozen=True)
class SuppressionRecord:
    """One suppression as read: what leaves this module instead of the ORM row."""

    address: str
    reason: str
    source: str
    created_at: datetime
    expires_at: datetime | None
    note: str


_RECORD = select(
    Suppression.address,
    Suppression.reason,
    Suppression.source,
    Suppression.created_at,
    Suppression.expires_at,
    Suppression.note,
)


class SuppressionStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(
        self,
        address: str,
        *,
        reason: str,
        source: str,
        actor: str,
        at: datetime,
        expires_at: datetime | None = None,
        note: str = "",
    ) -> bool:
        """Suppress ``address``; True if it was not suppressed before."""
        if reason not in REASONS:
            raise ConfigError(
                f"unknown suppression reason {reason!r} (one of {', '.join(sorted(REASONS))})"
            )
        try:
            normal = normalise_address(address)
        except InvalidAddress as exc:
            raise ConfigError(f"{address!r}: {exc}") from None
        with self._db.session() as session:
            return suppress_in(
                session,
                normal,
                reason=reason,
                source=source,
                actor=actor,
                at=at,
                expires_at=expires_at,
                note=note,
            )

    def remove(self, address: str, *, actor: str, at: datetime) -> bool:
        normal = address_key(address)
        with self._db.session() as session:
            gone = session.execute(delete(Suppression).where(Suppression.address == normal))
            if gone.rowcount:  # type: ignore[attr-defined]
                _audit(
                    session,
                    at=at,
                    actor=actor,
                    action="unsuppress",
                    address=normal,
                    reason="allowed again by hand",
                )
            return bool(gone.rowcount)  # type: ignore[attr-defined]

    def active(self, at: datetime) -> Iterator[SuppressionRecord]:
        with self._db.engine.connect() as connection:
            query = _RECORD.where(active_at(at)).order_by(Suppression.address)
            for row in connection.execute(query):
                yield SuppressionRecord(*row)

    def find(self, address: str, at: datetime) -> SuppressionRecord | None:
        """The address's suppression in force at ``at``, if any."""
        query = _RECORD.where(Suppression.address == address_key(address), active_at(at))
        with self._db.engine.connect() as connection:
            row = connection.execute(query).first()
        return SuppressionRecord(*row) if row is not None else None

    def active_among(self, addresses: Collection[str], at: datetime) -> dict[str, str]:
        """Of these (normalised) addresses, those suppressed at ``at``, with their reason: one
        query for a whole batch, made right before it sends."""
        found: dict[str, str] = {}
        unique = sorted(set(addresses))
        with self._db.session() as session:
            for start in range(0, len(unique), LOOKUP_CHUNK):
                chunk = unique[start : start + LOOKUP_CHUNK]
                query = select(Suppression.address, Suppression.reason).where(
                    Suppression.address.in_(chunk), active_at(at)
                )
                found.update({address: reason for address, reason in session.execute(query)})
        return found

    def is_suppressed(self, address: str, at: datetime) -> bool:
        return self.find(address, at) is not None

    def export(self, path: Path, at: datetime) -> int:
        count = 0
        with open_output(path) as out:
            writer = SafeCsvWriter(
                out, ["address", "reason", "source", "created_at", "expires_at", "note"]
            )
            for row in self.active(at):
                writer.row(
                    [
                        row.address,
                        row.reason,
                        row.source,
                        row.created_at.isoformat(),
                        row.expires_at.isoformat() if row.expires_at else "",
                        row.note,
                    ]
                )
                count += 1
        return count

    def import_file(
        self, path: Path, *, actor: str, at: datetime, default_reason: str = "imported"
    ) -> SuppressionImport:
        """Suppress every address of a CSV with an ``address`` (or ``email``) column."""
        added = updated = 0
        invalid: list[tuple[int, str]] = []
        with path.open(newline="", encoding="utf-8-sig") as source:
            reader = csv.DictReader(source)
            columns = {name.strip().lower(): name for name in reader.fieldnames or []}
            column = columns.get("address") or columns.get("email")
            if column is None:
                raise ConfigError(f"{path.name}: needs an 'address' or 'email' column")
            reason_column = columns.get("reason")
            for row in reader:
                reason = (row.get(reason_column) or "").strip() if reason_column else ""
                try:
                    fresh = self.add(
                        row[column] or "",
                        reason=reason or default_reason,
                        source=f"import {path.name}",
                        actor=actor,
                        at=at,
                    )
                except ConfigError as exc:
                    invalid.append((reader.line_num, str(exc)))
                    continue
                added += fresh
                updated += not fresh
        return SuppressionImport(added, updated, invalid)

    def unsubscribe(
        self,
        token: str,
        unsubscriber: Unsubscriber,
        *,
        at: datetime,
        campaign_name: Callable[[int], str] = str,
    ) -> str:
        """Honour an unsubscribe link: suppress its address and skip its unsent rows. The
        source names the campaign whose link it was (``campaign_name``: its owner's answer)."""
        campaign_id, address = unsubscriber.verify(token)
        self.add(
            address,
            reason="unsubscribe",
            source=f"link (campaign {campaign_name(campaign_id)})",
            actor=address,
            at=at,
        )
        with self._db.session() as session:
            suppress_pending(session, address, reason="unsubscribed", at=at)
        return address
