"""Telling people: warnings, holds, pauses and resumes, as log lines and to a chat webhook.

Changes are read from the audit log, so a hold by the health gate and a resume by ops are told
alike, whoever made them. A warning (a rate near the hold line) is told when a domain enters the
warn band, not on every judgement. A failing chat webhook is logged and never stops the service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import requests
from sqlalchemy import func, select

from warmup.control.health import Level, Verdict
from warmup.store.database import Database
from warmup.store.models import AuditEntry

log = logging.getLogger("warmup.notify")
TOLD = ("hold", "pause", "resume", "release")
Post = Callable[..., Any]


class Notifier:
    def __init__(self, database: Database, url: str | None, post: Post = requests.post) -> None:
        self._db = database
        self._url = url
        self._post = post
        self._levels: dict[str, Level] = {}
        with database.session() as session:  # start from now: no flood of old entries
            self._seen = int(session.scalar(select(func.max(AuditEntry.id))) or 0)

    def tell(self, text: str, kind: str) -> None:
        log.warning("%s", text, extra={"notification": kind})
        if self._url is None:
            return
        try:
            self._post(self._url, json={"text": text}, timeout=5)
        except requests.RequestException as exc:
            log.error("notification webhook failed: %s", type(exc).__name__)

    def observe(self, domain: str, verdict: Verdict) -> None:
        previous = self._levels.get(domain)
        self._levels[domain] = verdict.level
        if verdict.level is Level.WARN and previous is not Level.WARN:
            self.tell(f"{domain}: warning: {verdict.reason}", "warn")

    def tell_changes(self) -> int:
        with self._db.session() as session:
            entries = session.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.id > self._seen,
                    AuditEntry.subject_type == "domain",
                    AuditEntry.action.in_(TOLD),
                )
                .order_by(AuditEntry.id)
            ).all()
            latest = session.scalar(select(func.max(AuditEntry.id))) or self._seen
        for entry in entries:
            self.tell(
                f"{entry.subject}: {entry.action} by {entry.actor}: {entry.reason}", entry.action
            )
        self._seen = max(self._seen, int(latest))
        return len(entries)
