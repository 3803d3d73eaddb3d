"""The wire journal in one process: for tests and single-process runs.

It does exactly what the Lua scripts do, and the same contract tests check both. It cannot
outlive its process, so it proves nothing about a process that died: a run without Redis
falls back to asking ACS about every row left ``sending``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Mapping

from warmup.journal.base import ON_WIRE, OPENED, SEALED, Entries, HeldUntil, Marked


class InMemoryJournal:
    def __init__(self, held_until: HeldUntil | None = None) -> None:
        self._journals: dict[str, dict[str, str]] = {}
        self._held_until = held_until
        self._lock = threading.Lock()

    def open(self, owner: str) -> None:
        with self._lock:
            self._journals.setdefault(owner, {})[OPENED] = "1"

    def _write_one(self, owner: str, entries: Entries, held: bool) -> Marked:
        journal = self._journals.get(owner, {})
        if SEALED in journal:
            return Marked.SEALED
        if OPENED not in journal:
            return Marked.LOST
        for row, value in entries.items():
            if value is None:
                journal.pop(str(row), None)
            elif not (held and value == ON_WIRE):
                journal[str(row)] = value
        return Marked.HELD if held else Marked.OK

    def write(
        self, entries: Mapping[str, Entries], *, scope: str | None = None, now: float | None = None
    ) -> dict[str, Marked]:
        held = False
        if scope is not None and self._held_until is not None:
            held = self._held_until(scope) > (time.time() if now is None else now)
        with self._lock:
            return {owner: self._write_one(owner, rows, held) for owner, rows in entries.items()}

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
