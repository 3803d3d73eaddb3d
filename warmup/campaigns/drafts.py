"""A draft's lifecycle beside create and start: delete it (its name is free again) or clone any
campaign into a new draft with the same list, sender and message (variants included)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from warmup import audit
from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.record import CampaignRecord
from warmup.campaigns.store import (
    MESSAGE_COLUMNS,
    add_draft,
    refuse_taken_name,
)
from warmup.errors import ConflictError, NotFoundError, TransitionError
from warmup.store.database import Database
from warmup.store.models import Campaign

# A clone carries its source's A/B test too: the variants, the test group and the wait.
AB_TEST_COLUMNS = ("variants", "test_fraction", "test_wait_seconds")


def delete_draft(database: Database, name: str, *, actor: str, at: datetime) -> None:
    """Delete a draft (scheduled or not): nothing of it was sent, so nothing of it is kept but
    the audit entry. A campaign that started is kept for its figures: clone it instead."""
    with database.engine.begin() as connection:
        status = connection.scalar(select(Campaign.status).where(Campaign.name == name))
        if status is None:
            raise NotFoundError(f"no campaign {name!r}")
        if status != CampaignStatus.DRAFT.value:
            raise TransitionError(
                f"campaign {name} is {status}; only a draft can be deleted "
                "(its figures are kept: clone it to send it again)"
            )
        gone = connection.execute(
            delete(Campaign).where(
                Campaign.name == name, Campaign.status == CampaignStatus.DRAFT.value
            )
        )
        if gone.rowcount != 1:
            raise ConflictError(f"campaign {name} changed meanwhile; look again and retry")
        audit.record(
            connection, "campaign", name, "delete", actor=actor, at=at,
            reason="draft deleted: its name is free again",
        )  # fmt: skip


def clone(
    database: Database, source: CampaignRecord, new_name: str, *, actor: str, at: datetime
) -> CampaignRecord:
    """A new draft named ``new_name`` with ``source``'s list, sender, message and A/B
    variants."""
    name = source.name
    with database.session() as session:
        refuse_taken_name(session, new_name)
        return add_draft(
            session,
            actor=actor,
            at=at,
            reason=f"clone of {name}",
            name=new_name,
            list_id=source.list_id,
            **{column: getattr(source, column) for column in (*MESSAGE_COLUMNS, *AB_TEST_COLUMNS)},
        )
