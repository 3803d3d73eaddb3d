"""Ledger states (pure).

    pending ─claim─▶ claimed ─permit─▶ sending ─202─▶ accepted
       ▲               │ lease expired     │ 4xx ──▶ failed
       └───────────────┘                   │ 429/5xx/paused/held back ──▶ pending
       ▲                                   │ lease expired, not on the wire ──▶ pending
       ▲                                   │ no answer, or on the wire when its worker died
       └── ACS: unknown id ── verifying ◀──┘
       ▲                         └── ACS: known id ──▶ accepted
       └── A/B winner picked ── waiting (the rest of an A/B campaign's list)

A row is ``sending`` once it is readied to leave (marked in a group, ahead of its wire slot).
Whether its request really left is written in its batch's wire journal, outside the process,
right before it may leave (:mod:`warmup.journal`). If the batch's process dies, a ``sending``
row with no mark goes back to ``pending``; only a marked row whose answer is unknown is in
doubt: ``verifying`` until ``GET /emails/operations/{operation id}`` settles it (over SMTP,
which cannot be asked, taken as accepted). It is never posted twice on a guess.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerState(StrEnum):
    PENDING = "pending"  # to send
    WAITING = "waiting"  # to send once the campaign's A/B test has a winner
    CLAIMED = "claimed"  # leased by a dispatcher tick; back to pending if the lease expires
    SENDING = "sending"  # readied to leave; whether it left is in the batch's wire journal
    VERIFYING = "verifying"  # in doubt: ACS is asked whether it knows the Operation-Id
    ACCEPTED = "accepted"  # ACS answered 202: the message id is stored
    FAILED = "failed"  # ACS refused it for good (a permanent error)
    SUPPRESSED = "suppressed"  # on the suppression list when its turn came
    SKIPPED = "skipped"  # not sent on purpose (campaign cancelled)


TERMINAL = frozenset(
    {LedgerState.ACCEPTED, LedgerState.FAILED, LedgerState.SUPPRESSED, LedgerState.SKIPPED}
)


# Rows not yet final: a campaign with any of them is not complete.
OPEN = frozenset(
    {
        LedgerState.PENDING,
        LedgerState.WAITING,
        LedgerState.CLAIMED,
        LedgerState.SENDING,
        LedgerState.VERIFYING,
    }
)
# Rows promised out of the domain's allowance but not yet known as sent or not.
IN_FLIGHT = frozenset({LedgerState.CLAIMED, LedgerState.SENDING, LedgerState.VERIFYING})
