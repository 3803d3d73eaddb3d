"""Ledger states and each row's Operation-Id (pure)."""

from __future__ import annotations

import uuid
from enum import StrEnum

# Fixed forever: operation ids already sent must stay derivable from (campaign, address).
OPERATION_NAMESPACE = uuid.UUID("6c2f1f1e-8f0a-4a53-9d8e-5b1c0f7a9e21")


class LedgerState(StrEnum):
    PENDING = "pending"  # to send
    CLAIMED = "claimed"  # leased by a dispatcher tick; back to pending if the lease expires
    ACCEPTED = "accepted"  # ACS answered 202: the message id is stored
    FAILED = "failed"  # ACS refused it for good (a permanent error)
    SUPPRESSED = "suppressed"  # on the suppression list when its turn came
    SKIPPED = "skipped"  # not sent on purpose (campaign cancelled)


TERMINAL = frozenset(
    {LedgerState.ACCEPTED, LedgerState.FAILED, LedgerState.SUPPRESSED, LedgerState.SKIPPED}
)


def operation_id(campaign_id: int, address: str) -> str:
    """The ACS Operation-Id of a ledger row: the same on every attempt, by any worker."""
    return str(uuid.uuid5(OPERATION_NAMESPACE, f"{campaign_id}:{address}"))
