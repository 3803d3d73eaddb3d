"""Follow-up campaigns: try again the recipients a campaign's message may not have reached."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select

from warmup.campaigns.record import CampaignRecord
from warmup.campaigns.store import (
    MESSAGE_COLUMNS,
    CampaignStore,
    add_draft,
    refuse_taken_name,
)
from warmup.errors import ContentError
from warmup.ledger.states import LedgerState
from warmup.lists.importer import derive_list
from warmup.store.database import Database
from warmup.store.models import Campaign, ContactList, LedgerRow
from warmup.suppression.store import is_suppressed


class CampaignRetry:
    def __init__(self, database: Database, campaigns: CampaignStore) -> None:
        self._db = database
        self._campaigns = campaigns

    def retry(
        self,
        name: str,
        *,
        outcomes: list[str],
        settled_before: datetime,
        new_name: str | None,
        actor: str,
        at: datetime,
    ) -> tuple[CampaignRecord, int]:
        """A draft follow-up of a campaign for exactly its rows with these outcomes (settled
        before ``settled_before``), less every address suppressed since, on a list of its own
        and with the same message. Return it and how many recipients it has."""
        source = self._campaigns.get(name)
        retry_name = new_name or self._free_name(f"{name}-retry")
        with self._db.session() as session:
            refuse_taken_name(session, retry_name)
        # "failed" is both a delivery report's outcome and a row that never left (its message
        # did not render, or ACS refused it for good): campaign status counts both.
        failed: ColumnElement[bool] = LedgerRow.outcome.in_(outcomes)
        if "failed" in outcomes:
            failed = or_(failed, LedgerRow.state == LedgerState.FAILED.value)
        chosen = select(LedgerRow.recipient_id).where(
            LedgerRow.campaign_id == source.id,
            failed,
            func.coalesce(LedgerRow.outcome_at, LedgerRow.updated_at) < settled_before,
            LedgerRow.recipient_id.is_not(None),
            ~is_suppressed(LedgerRow.address, at),
        )
        reason = (
            f"retry of {name}: outcomes {', '.join(outcomes)} settled before "
            f"{settled_before:%Y-%m-%d %H:%M} UTC"
        )
        with self._db.session() as session:
            connection = session.connection()
            list_id, rows = derive_list(
                connection,
                name=retry_name,
                source_list_id=source.list_id,
                recipient_ids=chosen,  # type: ignore[arg-type]
                actor=actor,
                at=at,
                reason=reason,
            )
            if rows == 0:
                raise ContentError(
                    f"campaign {name} has no rows with outcomes {', '.join(outcomes)} to retry"
                )
            campaign = add_draft(
                session,
                actor=actor,
                at=at,
                reason=f"{reason}: {rows:,} recipients",
                name=retry_name,
                list_id=list_id,
                **{column: getattr(source, column) for column in MESSAGE_COLUMNS},
            )
            return campaign, rows

    def _free_name(self, stem: str) -> str:
        """``stem``, or ``stem-2``, ``stem-3``… the first that no campaign or list has."""
        with self._db.session() as session:
            taken = set(
                session.scalars(select(Campaign.name).where(Campaign.name.startswith(stem)))
            )
            taken |= set(
                session.scalars(select(ContactList.name).where(ContactList.name.startswith(stem)))
            )
        candidates = itertools.chain([stem], (f"{stem}-{n}" for n in itertools.count(2)))
        return next(name for name in candidates if name not in taken)
