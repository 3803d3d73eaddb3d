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

from warmup.audit import AuditFilter, AuditLog
from warmup.control.health import Level, Verdict
from warmup.store.database import Database

log = logging.getLogger("warmup.notify")
TOLD = (
    "hold",
    "pause",
    "resume",
    "release",
    "provider-hold",
    "provider-pause",
    "provider-release",
)
Post = Callable[..., Any]


class Notifier:
    def __init__(self, database: Database, url: str | None, post: Post = requests.post) -> None:
        self._db = database
        self._url = url
        self._post = post
        self._levels: dict[str, Level] = {}
        self._log = AuditLog(database)
        self._seen = self._log.latest_id()  # start from now: no flood of old entries

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
        latest = self._log.latest_id()
        entries = self._log.oldest_first(
            AuditFilter(subject_type="domain", actions=TOLD, after_id=self._seen)
        )
        for entry in entries:
            self.tell(
                f"{entry.subject}: {entry.action} by {entry.actor}: {entry.reason}", entry.action
            )
        self._seen = max(self._seen, latest)
        return len(entries)
