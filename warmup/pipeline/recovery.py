"""Lapsed batches' rows, settled from their wire journals: only what may have left is doubted.

For each batch whose lease lapsed with rows still ``sending`` (its process died or hung), the
batch's journal is sealed (from then on the batch can send nothing more, even if its process
is alive after all) and read. Each row then is:

- **unsent**, with no mark: it was only readied, queued for a connection, held back by a
  throttle or waiting for a permit. Back to ``pending``, without asking ACS;
- **answered**, with its result noted (accepted with its message id, refused...): recorded as
  noted, without asking ACS;
- **in doubt**, marked on the wire with no answer noted: over REST ``verifying`` (asked at ACS
  within the status-GET budget before any second post); over SMTP taken as accepted.

When a batch's journal is gone (Redis restarted without persistence, or the journal expired),
nothing can be proved, and every row of the batch is in doubt, as before the journal existed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from warmup.journal.base import ON_WIRE, JournalError, WireJournal
from warmup.ledger.states import LedgerState
from warmup.ledger.store import LedgerStore, SendResult, Settled
from warmup.pipeline.wire_log import decode

log = logging.getLogger(__name__)

NEVER_LEFT = "returned unsent: its request never left (wire journal)"


@dataclass
class Recovery:
    claims: int = 0  # claimed rows, never readied, back to pending
    unsent: int = 0  # readied rows proved unsent by the journal, back to pending
    answered: int = 0  # rows whose answer the journal kept, recorded as it was
    in_doubt: int = 0  # rows whose request may have left: asked at ACS (SMTP: taken)
    journals_lost: int = 0  # batches whose journal was gone: every row of them in doubt

    @property
    def total(self) -> int:
        return self.claims + self.unsent + self.answered + self.in_doubt


def recover_lapsed(ledger: LedgerStore, journal: WireJournal, now: datetime) -> Recovery:
    recovery = Recovery(claims=ledger.expire_claims(now))
    for owner, lapsed in ledger.lapsed_sending(now).items():
        rows = lapsed.rows
        try:
            notes = journal.seal(owner)
        except JournalError as exc:
            log.warning("batch %s: its wire journal cannot be read now: %s", owner, exc)
            continue  # still lapsed at the next run
        lost = notes is None
        if notes is None:
            # Nothing can be proved: every row is taken as possibly on the wire.
            recovery.journals_lost += 1
            log.warning("batch %s lapsed and its wire journal is gone: all in doubt", owner)
            notes = dict.fromkeys(rows, ON_WIRE)
        unsent: list[SendResult] = []
        answered: list[SendResult] = []
        in_doubt: list[int] = []
        for row in rows:
            if row not in notes:
                unsent.append(SendResult(row, LedgerState.PENDING, 0, error=NEVER_LEFT))
            elif (result := decode(row, notes[row])) is None:
                in_doubt.append(row)
            else:
                answered.append(result)
        ledger.settle_lapsed(owner, lapsed, Settled(unsent, answered, in_doubt, lost), now)
        recovery.unsent += len(unsent)
        recovery.answered += len(answered)
        recovery.in_doubt += len(in_doubt)
        log.info(
            "batch %s lapsed: %d row(s) unsent, %d answered, %d in doubt",
            owner,
            len(unsent),
            len(answered),
            len(in_doubt),
        )
    return recovery
