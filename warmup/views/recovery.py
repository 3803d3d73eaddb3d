"""Recovery after a crash, as campaign and domain status show it (issue 29): the rows a dead or
hung process left, which came back unsent, which are in doubt, and when those will be settled
at the status-GET budget that is left."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel

from warmup.errors import ConfigError
from warmup.ledger.recoveries import RecoveryTotals
from warmup.pipeline.outcome_poll import StatusBudget, quota_scope, status_budget
from warmup.ratelimit.base import Limiter
from warmup.settings import Settings

log = logging.getLogger(__name__)


class StatusBudgetOut(BaseModel):
    """Status GETs (how rows in doubt are settled) left now, and what they refill to."""

    minute_left: int
    hour_left: int | None
    per_minute: int
    per_hour: int | None


class RecoveryOut(BaseModel):
    """Rows that processes which died or hung had readied, settled from their wire journals."""

    batches: int  # lapsed batches settled
    returned_unsent: int  # never left: back to pending without asking ACS
    answered: int  # their answer was kept in the journal: recorded without asking ACS
    found_in_doubt: int  # may have left with no answer: asked at ACS (over SMTP: taken)
    journals_lost: int  # batches whose journal was gone (Redis restarted): all rows in doubt
    last_at: datetime | None
    in_doubt_now: int  # rows ACS is being asked about now (``verifying``)
    status_gets: StatusBudgetOut | None  # None: the budget could not be read here
    settled_by: datetime | None  # when the rows in doubt now will have been asked about


def budget_for(settings: Settings, limiter: Limiter | None, now: datetime) -> StatusBudget | None:
    """The status-GET budget left, if the limiter can be read (no Redis, no ACS endpoint
    configured: unknown)."""
    if limiter is None:
        return None
    from redis import RedisError  # there is a limiter: Redis's client is loaded already

    try:
        return status_budget(
            limiter,
            quota_scope(settings),
            settings.status_polls_per_minute,
            settings.status_polls_per_hour,
            now,
        )
    except (ConfigError, RedisError, OSError) as exc:
        log.warning("could not read the status-GET budget: %s", exc)
        return None


def recovery_out(
    totals: RecoveryTotals, in_doubt_now: int, budget: StatusBudget | None, now: datetime
) -> RecoveryOut:
    return RecoveryOut(
        batches=totals.batches,
        returned_unsent=totals.unsent,
        answered=totals.answered,
        found_in_doubt=totals.in_doubt,
        journals_lost=totals.journals_lost,
        last_at=totals.last_at,
        in_doubt_now=in_doubt_now,
        status_gets=None
        if budget is None
        else StatusBudgetOut(
            minute_left=budget.minute_left,
            hour_left=budget.hour_left,
            per_minute=budget.per_minute,
            per_hour=budget.per_hour,
        ),
        settled_by=None if budget is None else budget.settled_by(in_doubt_now, now),
    )


def describe(recovery: RecoveryOut) -> list[str]:
    """What the CLI prints of it: nothing when there was no recovery and nothing is in doubt."""
    lines: list[str] = []
    if recovery.batches:
        lines.append(
            f"recovered {recovery.batches:,} batch(es) whose process died or hung: "
            f"{recovery.returned_unsent:,} rows never left (back to pending, no status GET), "
            f"{recovery.answered:,} answered before the crash, "
            f"{recovery.found_in_doubt:,} in doubt"
            + (f"; {recovery.journals_lost} journal(s) lost" if recovery.journals_lost else "")
        )
    if recovery.in_doubt_now:
        budget = recovery.status_gets
        line = f"{recovery.in_doubt_now:,} rows in doubt now: ACS is asked about each"
        if budget is not None:
            hour = "" if budget.hour_left is None else f", {budget.hour_left} this hour"
            line += f" (status GETs left: {budget.minute_left} this minute{hour})"
        if recovery.settled_by is not None:
            line += f", all asked by {recovery.settled_by:%H:%M} UTC"
        lines.append(line)
    return lines
