"""Keep warmup's suppressions and ACS's suppression list of a domain in step, both ways.

- Every address warmup suppresses (hard bounces, complaints, unsubscribes, ops' own) is put on
  the domain's list in ACS (``warmup``), so that ACS itself refuses a send to it, from any
  client of the resource, not only warmup.
- Every address on that list that warmup does not suppress (ops may add addresses there in
  the portal) is suppressed in warmup (reason ``imported``, source ``acs:DOMAIN/warmup``).
- An address warmup put on ACS's list and no longer suppresses (an expired suppression, ops
  removed it) is taken off. Addresses others put there are never taken off by warmup.

Each address on ACS's list has an id made from the address (a UUID5), so a second run finds
what the first one wrote and changes nothing: the sync is idempotent. The resource manager
allows some 1,200 writes an hour per subscription, so a run writes at most ``max_writes``
addresses and says how many are left for the next run (the beat task's).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from warmup.addresses import InvalidAddress, address_key, normalise_address
from warmup.management.resources import AzureResources
from warmup.suppression.store import SuppressionStore

LIST_NAME = "warmup"
OURS = "warmup: "  # the notes of the addresses this sync put on ACS's list
ADDRESS_IDS = uuid.UUID("a3c4e0d2-5b1f-4f7e-9c2a-7d8e6f5a4b3c")


def address_id(address: str) -> str:
    return str(uuid.uuid5(ADDRESS_IDS, address))


@dataclass(frozen=True)
class SyncReport:
    pushed: int  # put on ACS's list
    pulled: int  # suppressed in warmup
    removed: int  # taken off ACS's list (no longer suppressed in warmup)
    invalid: int  # addresses on ACS's list warmup cannot read
    left: int = 0  # writes left for the next run (max_writes reached)

    @property
    def changed(self) -> int:
        return self.pushed + self.pulled + self.removed


def sync_suppressions(
    azure: AzureResources,
    store: SuppressionStore,
    domain: str,
    *,
    actor: str,
    at: datetime,
    max_writes: int = 1000,
) -> SyncReport:
    budget = max_writes - azure.ensure_suppression_list(domain, LIST_NAME)  # a PUT: a write
    ours = {entry.address: entry.reason for entry in store.active(at)}
    listed = azure.suppressed(domain, LIST_NAME)
    on_acs: dict[str, str] = {}
    invalid = 0
    for entry in listed:
        try:
            on_acs[normalise_address(entry.email)] = entry.notes
        except InvalidAddress:
            invalid += 1
    pulled = 0
    for address, notes in on_acs.items():
        if address not in ours and not notes.startswith(OURS):
            pulled += store.add(
                address,
                reason="imported",
                source=f"acs:{domain}/{LIST_NAME}",
                actor=actor,
                at=at,
                note=notes[:500],
            )
    to_push = [(a, reason) for a, reason in ours.items() if a not in on_acs]
    to_remove = [
        entry
        for entry in listed
        if entry.notes.startswith(OURS) and address_key(entry.email) not in ours
    ]
    for address, reason in to_push[:budget]:
        azure.suppress(domain, LIST_NAME, address_id(address), address, f"{OURS}{reason}")
    pushed = min(len(to_push), budget)
    budget -= pushed
    for entry in to_remove[:budget]:
        azure.unsuppress(domain, LIST_NAME, entry.address_id)
    removed = min(len(to_remove), budget)
    left = len(to_push) + len(to_remove) - pushed - removed
    return SyncReport(pushed, pulled, removed, invalid, left)
