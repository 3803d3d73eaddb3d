"""The journal's contract, the same for Redis and for the in-memory twin.

One journal per lease owner (a batch id). Its life:

1. ``open(owner)`` before any of the owner's rows is marked ``sending`` in the ledger;
2. ``write(owner → {row: value})`` while the batch runs: ``ON_WIRE`` right before a request
   may leave, a result once it is known, ``None`` to take a mark back (the attempt was
   answered with a refusal: nothing of it was accepted). A write is refused, whole, once the
   journal is sealed (``Marked.SEALED``) or when it is gone (``Marked.LOST``: Redis restarted,
   or the journal expired): the caller must then not send. Given a throttle ``scope``, marks
   are refused (``Marked.HELD``, results still written) while the limiter's throttle signal
   for it is up: a request held back by any worker's 429 is known at the last moment, in the
   same atomic step as its mark;
3. ``close(owner, rows)`` once every row's result is in the ledger: the journal is dropped;
4. or, when the lease lapsed (the process died or hung), ``seal(owner)`` by housekeeping: from
   then on no write is taken, so nothing can leave after the seal's answer was read. It answers
   the rows' values, or ``None`` when the journal is gone, and then every ``sending`` row of the
   owner must be taken as in doubt.

Because a write is refused after the seal, and the seal answers every write made before it,
"no mark" at the seal proves that the row's request never left.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from enum import Enum
from typing import Protocol

from warmup.errors import WarmupError

ON_WIRE = "w"  # the row's request may be on its way to ACS (no answer yet)
OPENED = "_open"  # the field every live journal holds, so a lost journal can be told apart
SEALED = "_sealed"  # set by the seal: no more writes
# A journal is kept at most this long (a crashed batch's is read within a lease or so).
DEFAULT_TTL_SECONDS = 24 * 3600.0


class JournalError(WarmupError):
    """The journal could not be reached: whoever wanted to mark a row must not send it."""


class Marked(Enum):
    OK = "ok"
    SEALED = "sealed"  # housekeeping took the lease back: nothing more may leave
    HELD = "held"  # ACS asked every worker of the scope to wait: the marks were refused
    LOST = "lost"  # the journal is gone (Redis restarted): nothing can be proved any more


# A row's values in one write: a string to set, None to take the row's mark back.
Entries = Mapping[int, str | None]
# Where a scope's throttle signal is kept (Redis: the limiter's key for it).
HoldKey = Callable[[str], str]
# Until when (unix seconds) a scope is throttled (in memory: the limiter's own answer).
HeldUntil = Callable[[str], float]


class WireJournal(Protocol):
    def open(self, owner: str) -> None:
        """Start (or keep) the owner's journal: before any of its rows is marked sending."""

    def write(
        self, entries: Mapping[str, Entries], *, scope: str | None = None, now: float | None = None
    ) -> dict[str, Marked]:
        """Apply each owner's entries at once, unless its journal is sealed or lost; marks not
        while ``scope`` is throttled at ``now`` (unix seconds; None: the journal's own clock)."""

    def seal(self, owner: str) -> dict[int, str] | None:
        """Refuse every later write; the rows' values, or None if the journal is gone."""

    def close(self, owner: str, rows: Collection[int]) -> None:
        """Forget these rows; drop the journal once no row of it is left (unless sealed)."""

    def shut(self) -> None:
        """Let go of the connection."""
