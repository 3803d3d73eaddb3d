"""The wire journal: which rows' requests may have left a send process.

A row is in doubt after a crash only if its request may have reached ACS. The ledger cannot
say that cheaply (a row is marked ``sending`` in groups, ahead of its wire slot), so each send
process writes a mark to this journal, outside the process, right before a request's bytes
or an SMTP transaction go to a socket, and the result once the answer comes. When a lease
lapses, housekeeping seals the lease's journal and reads it: a row with no mark never left,
and goes back to ``pending`` without asking ACS. See :mod:`warmup.journal.base`.
"""

from warmup.journal.base import JournalError, Marked, WireJournal
from warmup.journal.memory import InMemoryJournal
from warmup.journal.redis_journal import RedisJournal

__all__ = ["InMemoryJournal", "JournalError", "Marked", "RedisJournal", "WireJournal"]
