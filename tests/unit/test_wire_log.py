"""A send process's wire log: one journal write out at a time, off the event loop; what is
marked or noted during a write's round trip goes in the next one; a refusal reaches exactly the
sends of the refused owner."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping

import pytest

from warmup.errors import NotSent
from warmup.journal.base import ON_WIRE, Entries, JournalError, Marked
from warmup.journal.memory import InMemoryJournal
from warmup.pipeline.wire_log import WireLog


class SlowJournal(InMemoryJournal):
    """Each write waits until the test lets it go, and is recorded with the thread it ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[dict[str, dict[int, str | None]]] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.in_write = threading.Event()
        self.fail_next = False

    def write(
        self, entries: Mapping[str, Entries], *, scope: str | None = None, now: float | None = None
    ) -> dict[str, Marked]:
        self.threads.add(threading.current_thread().name)
        self.in_write.set()
        self.release.wait(5)
        self.writes.append({owner: dict(rows) for owner, rows in entries.items()})
        if self.fail_next:
            self.fail_next = False
            raise JournalError("the wire journal is unreachable: connection refused")
        return super().write(entries, scope=scope, now=now)


async def _until(condition: threading.Event) -> None:
    await asyncio.to_thread(condition.wait, 5)


def test_marks_made_while_a_write_is_out_go_together_in_the_next_one() -> None:
    async def scenario() -> None:
        journal = SlowJournal()
        journal.open("b1")
        log = WireLog(journal)
        first = asyncio.create_task(log.leaving("b1", 1))
        await _until(journal.in_write)  # row 1's write is out, held
        log.note("b1", 9, "result of 9")
        others = [asyncio.create_task(log.leaving("b1", row)) for row in (2, 3, 4)]
        await asyncio.sleep(0.05)
        assert journal.writes == []  # still one write out, held, and no other
        assert not first.done()
        journal.release.set()
        await asyncio.gather(first, *others)
        assert journal.writes == [
            {"b1": {1: ON_WIRE}},
            {"b1": {9: "result of 9", 2: ON_WIRE, 3: ON_WIRE, 4: ON_WIRE}},
        ]
        assert journal.threads == {"warmup-wire-journal_0"}  # never on the event loop's thread
        log.shut()

    asyncio.run(scenario())


def test_a_refused_owner_refuses_its_own_sends_only() -> None:
    async def scenario() -> None:
        journal = SlowJournal()
        journal.release.set()
        journal.open("live")
        journal.open("taken")
        journal.seal("taken")  # housekeeping took this batch's lease back
        log = WireLog(journal)
        live = asyncio.create_task(log.leaving("live", 1))
        taken = asyncio.create_task(log.leaving("taken", 2))
        await asyncio.wait([live, taken])
        assert live.exception() is None
        assert isinstance(taken.exception(), NotSent)
        assert "sealed" in str(taken.exception())
        log.shut()

    asyncio.run(scenario())


def test_an_unreachable_journal_sends_nothing_and_the_next_write_goes_on() -> None:
    async def scenario() -> None:
        journal = SlowJournal()
        journal.release.set()
        journal.open("b1")
        journal.fail_next = True
        log = WireLog(journal)
        with pytest.raises(NotSent, match="unreachable"):
            await log.leaving("b1", 1)
        await log.leaving("b1", 2)  # the write after a failure is made as usual
        assert journal.seal("b1") == {2: ON_WIRE}
        log.shut()

    asyncio.run(scenario())


def test_write_notes_returns_once_the_notes_are_in_the_journal() -> None:
    async def scenario() -> None:
        journal = SlowJournal()
        journal.release.set()
        journal.open("b1")
        log = WireLog(journal)
        await log.leaving("b1", 1)
        log.note("b1", 1, "accepted")
        await log.write_notes()
        assert journal.seal("b1") == {1: "accepted"}
        await log.write_notes()  # nothing noted: no write at all
        assert len(journal.writes) == 2
        log.shut()

    asyncio.run(scenario())
