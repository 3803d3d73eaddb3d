"""Ledger states (pure).

    pending ─claim─▶ claimed ─permit─▶ sending ─202─▶ accepted
       ▲               │ lease expired     │ 4xx ──▶ failed
       └───────────────┘                   │ 429/5xx/paused ──▶ pending
       ▲                                   │ no answer, lease expired, worker died
       └── ACS: unknown id ── verifying ◀──┘
       ▲                         └── ACS: known id ──▶ accepted
       └── A/B winner picked ── waiting (the rest of an A/B campaign's list)

A row is ``sending`` from just before its request may leave: after that only ACS can say
whether it arrived, so a row that never got its answer is ``verifying`` until
``GET /emails/operations/{operation id}`` settles it. It is never posted twice on a guess.
"""

from __future__ import annotations

from enum import StrEnum


class LedgerState(StrEnum):
    PENDING = "pending"  # to send
    WAITING = "waiting"  # to send once the campaign's A/B test has a winner
    CLAIMED = "claimed"  # leased by a dispatcher tick; back to pending if the lease expires
    SENDING = "sending"  # its request may have left; never back to pending without asking ACS
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
