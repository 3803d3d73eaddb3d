"""The wire journal in one process: for tests and single-process runs.

It does exactly what the Lua scripts do, and the same contract tests check both. It cannot
outlive its process, so it proves nothing about a process that died: a run without Redis
falls back to asking ACS about every row left ``sending``.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping

from warmup.journal.base import OPENED, SEALED, Entries, Marked


class InMemoryJournal:
    def __init__(self) -> None:
        self._journals: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def open(self, owner: str) -> None:
        with self._lock:
            self._journals.setdefault(owner, {})[OPENED] = "1"

    def _write_one(self, owner: str, entries: Entries) -> Marked:
        journal = self._journals.get(owner, {})
        if SEALED in journal:
            return Marked.SEALED
        if OPENED not in journal:
            return Marked.LOST
        for row, value in entries.items():
            if value is None:
                journal.pop(str(row), None)
            else:
                journal[str(row)] = value
        return Marked.OK

    def write(self, entries: Mapping[str, Entries]) -> dict[str, Marked]:
        with self._lock:
            return {owner: self._write_one(owner, rows) for owner, rows in entries.items()}

    def seal(self, owner: str) -> dict[int, str] | None:
        with self._lock:
            journal = self._journals.setdefault(owner, {})
            opened = OPENED in journal
            found = {int(k): v for k, v in journal.items() if k not in (OPENED, SEALED)}
            journal[SEALED] = "1"
            return found if opened else None

    def close(self, owner: str, rows: Collection[int]) -> None:
        with self._lock:
            journal = self._journals.get(owner)
            if journal is None:
                return
            for row in rows:
                journal.pop(str(row), None)
            if set(journal) == {OPENED}:
                del self._journals[owner]

    def forget_everything(self) -> None:
        """As a Redis restart without persistence does (for tests)."""
        with self._lock:
            self._journals.clear()

    def shut(self) -> None:
        return None
