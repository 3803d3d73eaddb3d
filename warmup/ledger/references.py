"""The ledger's references to campaigns and recipients, checked after the fact.

``send_ledger`` has no foreign keys (migration 0020): checking one per row written cost a
third of a campaign start's fill, and no code path deletes a campaign, a list or a recipient.
Writers take the ids from the rows they reference, in the same transaction; ``warmup db
check`` proves it with :func:`orphans`.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from warmup.store.models import Campaign, LedgerRow, Recipient


def orphans(connection: Connection) -> list[str]:
    """What in the ledger names a campaign or a recipient that does not exist (empty: every
    reference holds). Reads the whole ledger: a check for ops."""
    no_campaign = ~select(Campaign.id).where(Campaign.id == LedgerRow.campaign_id).exists()
    no_recipient = LedgerRow.recipient_id.is_not(None) & ~(
        select(Recipient.id).where(Recipient.id == LedgerRow.recipient_id).exists()
    )
    found = []
    for missing, condition in (("campaign", no_campaign), ("recipient", no_recipient)):
        rows = connection.scalar(select(func.count()).select_from(LedgerRow).where(condition))
        if rows:  # None or 0: none
            found.append(f"{rows:,} ledger row(s) name a {missing} that does not exist")
    return found
