"""A send process's writes to the wire journal, one round trip per turn of its event loop.

Every send that is about to leave awaits its mark (:meth:`WireLog.leaving`); the marks and the
results noted since the last write go to the journal together, in one pipelined call. One
write is out at a time, made on a thread of its own so that the event loop goes on handling
answers during the round trip: whatever is marked or noted meanwhile rides with the next
write. Under load a write carries the marks of many sends, so the journal costs a fraction of
a Redis round trip per email, and a send waits at most two round trips for its mark. (Made on
the loop itself, a write held the loop for its round trip, nothing could gather meanwhile,
and a send process made one Redis call per email.)

A row's journal value is ``w`` (on the wire) or its result, encoded by :func:`encode`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from warmup.errors import NotSent
from warmup.journal.base import ON_WIRE, JournalError, Marked, WireJournal
from warmup.ledger.states import LedgerState
from warmup.ledger.store import SendResult

log = logging.getLogger(__name__)

_REFUSALS = {
    Marked.HELD: "throttled: ACS asked every worker to wait",
    Marked.SEALED: "lease taken back by housekeeping (the wire journal is sealed)",
    Marked.LOST: "the wire journal is gone (Redis restarted?): nothing more is sent",
}


def encode(result: SendResult) -> str:
    """A row's result as the journal keeps it until the ledger has it."""
    return json.dumps([result.state.value, result.message_id, result.error, result.attempts])


def decode(row_id: int, value: str) -> SendResult | None:
    """The result noted for a row, or None when it may still be on the wire."""
    if value == ON_WIRE:
        return None
    state, message_id, error, attempts = json.loads(value)
    return SendResult(row_id, LedgerState(state), int(attempts), message_id, error)


@dataclass
class _Turn:
    entries: dict[str, dict[int, str | None]] = field(default_factory=dict)
    waiting: dict[str, list[asyncio.Future[None]]] = field(default_factory=dict)
    # Whoever waits for this write to be made, whatever it answers (write_notes).
    flushed: list[asyncio.Future[None]] = field(default_factory=list)


class WireLog:
    """``scope`` names the throttle signal that holds marks back; ``now`` gives the time to
    compare it with (None: Redis's clock, as the limiter uses)."""

    def __init__(
        self,
        journal: WireJournal,
        scope: str | None = None,
        now: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._journal = journal
        self._scope = scope
        self._now = now
        self._turn = _Turn()
        # A write is out, or about to be: what is put meanwhile waits for the next one.
        self._due = False
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="warmup-wire-journal")

    async def open(self, owner: str) -> None:
        await asyncio.to_thread(self._journal.open, owner)

    async def close(self, owner: str, rows: list[int]) -> None:
        """The batch's results are in the ledger: its journal may go."""
        try:
            await asyncio.to_thread(self._journal.close, owner, rows)
        except JournalError as exc:  # it expires on its own
            log.warning("batch %s: could not drop its wire journal: %s", owner, exc)

    async def leaving(self, owner: str, row: int) -> None:
        """Mark the row as on the wire; raise ``NotSent`` when it must not leave."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._turn.waiting.setdefault(owner, []).append(future)
        self._put(owner, row, ON_WIRE)
        await future

    def note(self, owner: str, row: int, value: str | None) -> None:
        """A row's result (or ``None``: its mark taken back), written with the next marks (a
        slot's next mark carries its last result, so marked rows never outnumber the slots)
        or by :meth:`write_notes`, whichever comes first: no round trip of its own."""
        self._turn.entries.setdefault(owner, {})[row] = value

    async def write_notes(self) -> None:
        """Write the results noted so far (a batch does, before its results go to the ledger:
        a crash between the two costs no status GET)."""
        if not self._turn.entries:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._turn.flushed.append(future)
        self._schedule()
        await future

    def shut(self) -> None:
        self._writer.shutdown(wait=False)

    def _put(self, owner: str, row: int, value: str | None) -> None:
        self._turn.entries.setdefault(owner, {})[row] = value
        self._schedule()

    def _schedule(self) -> None:
        if not self._due:
            self._due = True
            asyncio.get_running_loop().call_soon(self._write)

    def _write(self) -> None:
        turn, self._turn = self._turn, _Turn()
        if not turn.entries:
            self._due = False
            for future in turn.flushed:
                if not future.done():
                    future.set_result(None)
            return
        now = self._now()
        written = asyncio.get_running_loop().run_in_executor(
            self._writer, lambda: self._journal.write(turn.entries, scope=self._scope, now=now)
        )
        written.add_done_callback(lambda done: self._written(turn, done))

    def _written(self, turn: _Turn, done: asyncio.Future[dict[str, Marked]]) -> None:
        try:
            answers, failure = done.result(), None
        except JournalError as exc:
            answers, failure = {}, str(exc)
        except Exception as exc:  # a fault of ours: its sends must not wait forever
            log.exception("the wire journal's write failed")
            answers, failure = {}, f"the wire journal's write failed: {exc}"
        for owner, futures in turn.waiting.items():
            answer = answers.get(owner)
            for future in futures:
                if future.done():  # its send was cancelled meanwhile
                    continue
                if answer is Marked.OK:
                    future.set_result(None)
                else:
                    reason = failure or _REFUSALS[answer or Marked.LOST]
                    future.set_exception(NotSent(reason))
        for future in turn.flushed:
            if not future.done():
                future.set_result(None)
        # What was put while this write was out goes now, in one write.
        self._write()
