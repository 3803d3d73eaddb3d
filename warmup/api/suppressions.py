"""``/api/suppressions``: addresses never to send to. Marketing adds and removes; anyone with a
token may look an address up. Every change is in the audit log with the token's name."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field

from warmup.addresses import address_key
from warmup.api.auth import Caller, Marketing
from warmup.api.bodies import Body
from warmup.api.services import Found
from warmup.suppression.store import REASONS
from warmup.views.suppressions import SuppressionOut, suppression_out

router = APIRouter(prefix="/api/suppressions", tags=["suppressions"])
Address = Annotated[str, Field(min_length=3, max_length=320)]


class SuppressionIn(Body):
    address: Address
    reason: Annotated[str, Field(description=f"One of: {', '.join(sorted(REASONS))}")] = "manual"
    days: Annotated[int, Field(ge=1, le=3650)] | None = None  # expire after; None: for good
    note: Annotated[str, Field(max_length=2000)] = ""


@router.get("/{address}")
def look_up(address: str, _: Caller, found: Found) -> SuppressionOut:
    """Is this address suppressed, and why? 404 if it may be sent to."""
    row = found.stores.suppressions.find(address, found.clock.now())
    if row is None:
        raise HTTPException(404, f"{address} is not suppressed")
    return suppression_out(row)


@router.get("")
def active(
    _: Caller,
    found: Found,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[SuppressionOut]:
    """Active suppressions in address order (the first ``limit``)."""
    rows = found.stores.suppressions.active(found.clock.now())
    return [suppression_out(row) for _, row in zip(range(limit), rows, strict=False)]


@router.post("", status_code=201)
def add(body: SuppressionIn, who: Marketing, found: Found) -> SuppressionOut:
    """Suppress an address (for good, or for ``days``)."""
    now = found.clock.now()
    store = found.stores.suppressions
    store.add(
        body.address,
        reason=body.reason,
        source=who.actor,
        actor=who.actor,
        at=now,
        expires_at=now + timedelta(days=body.days) if body.days else None,
        note=body.note,
    )
    row = store.find(body.address, now)
    assert row is not None  # just written
    return suppression_out(row)


@router.delete("/{address}")
def remove(address: str, who: Marketing, found: Found) -> dict[str, str]:
    """Allow an address again."""
    if not found.stores.suppressions.remove(address, actor=who.actor, at=found.clock.now()):
        raise HTTPException(404, f"{address} is not suppressed")
    return {"address": address_key(address), "status": "removed"}
