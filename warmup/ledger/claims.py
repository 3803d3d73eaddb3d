"""Claiming rows for a dispatcher tick: fenced, within the day's cap, most engaged first.

One transaction per claim does three things, so that even two dispatchers running at once (a
tick that outlived its lock, a second beat) cannot exceed what a domain may send today:

1. **The fence.** Each tick carries a fencing token, increasing with every lock taken. The
   claim records the domain's newest token and refuses a token older than that: a tick whose
   lock lapsed cannot claim once a newer tick has. The row it writes also serialises claims for
   the domain (a row lock on PostgreSQL; SQLite has one writer).
2. **The day cap**, counted inside that transaction: rows accepted today plus rows claimed or
   in doubt. A claim never takes more than the rest.
3. **The rows**, in rank order across the whole list (the most engaged first, whatever their
   mailbox provider), skipping providers whose budget for this tick is spent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, select, text, update

from warmup.ledger import counters
from warmup.ledger.states import LedgerState
from warmup.store.database import dialect_insert
from warmup.store.models import DispatchFence, LedgerRow

PEEK_FACTOR = 4  # rows looked at per row wanted, when some providers are out of budget
MAX_ROUNDS = 8  # claims lost to a concurrent claimer are retried this many times


class StaleFence(Exception):
    """A newer dispatcher tick has claimed for this domain: this tick must stop claiming."""


@dataclass
class DomainClaim:
    """What a claim for one domain must respect."""

    domain_id: int
    day_start: datetime  # where "today" began in the plan's timezone
    day_cap: int  # the step's per-day cap
    fence: int | None = None  # the tick's fencing token (None: a lone dispatcher, e.g. tests)
    # Rows each capped provider group may still take in this tick; a group not named is
    # limited by the claim's size alone. Spent as rows are claimed.
    budgets: dict[str, int] = field(default_factory=dict)


def take_fence(connection: Connection, domain_id: int, fence: int | None, at: datetime) -> None:
    """Record ``fence`` as the domain's newest, or raise :class:`StaleFence` if a newer one
    was recorded already. Without a fence (a lone dispatcher) the row is only touched.

    Either way this write comes first in the claim's transaction: it locks the domain's row
    (PostgreSQL) or the database (SQLite) until the claim commits, so the day's count that
    follows cannot change under it."""
    insert = dialect_insert(connection)(DispatchFence).values(
        domain_id=domain_id, fence=fence or 0, updated_at=at
    )
    if fence is None:
        statement = insert.on_conflict_do_update(
            index_elements=[DispatchFence.domain_id],
            set_={"updated_at": insert.excluded.updated_at},
        ).returning(DispatchFence.fence)
    else:
        statement = insert.on_conflict_do_update(
            index_elements=[DispatchFence.domain_id],
            set_={"fence": insert.excluded.fence, "updated_at": insert.excluded.updated_at},
            where=DispatchFence.fence <= insert.excluded.fence,
        ).returning(DispatchFence.fence)
    if connection.execute(statement).first() is None:
        raise StaleFence(f"dispatch fence {fence} is older than the domain's newest")


def _choose(
    candidates: list[tuple[int, str]], n: int, budgets: Mapping[str, int]
) -> list[tuple[int, str]]:
    left = dict(budgets)
    chosen: list[tuple[int, str]] = []
    for row_id, provider in candidates:
        if provider in left:
            if left[provider] <= 0:
                continue
            left[provider] -= 1
        chosen.append((row_id, provider))
        if len(chosen) == n:
            break
    return chosen


def _take_rows(
    connection: Connection,
    campaign_id: int,
    n: int,
    *,
    owner: str,
    deadline: datetime,
    now: datetime,
    domain: DomainClaim,
) -> list[int]:
    """Lease up to ``n`` pending rows of a campaign, in rank order within the budgets."""
    claimed: list[int] = []
    lease = {
        "state": LedgerState.CLAIMED.value,
        "lease_owner": owner,
        "lease_deadline": deadline,
        "updated_at": now,
    }
    pending = (LedgerRow.campaign_id == campaign_id, LedgerRow.state == LedgerState.PENDING.value)
    for _ in range(MAX_ROUNDS):
        wanted = n - len(claimed)
        spent = {p for p, left in domain.budgets.items() if left <= 0}
        if wanted <= 0:
            break
        if not domain.budgets:
            # No provider group to keep within a budget: the next rows in rank order, leased
            # in one statement (one round trip a batch, not two).
            next_rows = select(LedgerRow.id).where(*pending).order_by(LedgerRow.rank).limit(wanted)
            got = list(
                connection.scalars(
                    update(LedgerRow)
                    .where(LedgerRow.id.in_(next_rows.scalar_subquery()), *pending)
                    .values(**lease)
                    .returning(LedgerRow.id)
                )
            )
            claimed += got
            if not got:
                break  # nothing left (or every candidate taken meanwhile: the next tick)
            continue
        peek = (
            select(LedgerRow.id, LedgerRow.provider)
            .where(*pending)
            .order_by(LedgerRow.rank)
            .limit(wanted * PEEK_FACTOR)
        )
        if spent:
            peek = peek.where(LedgerRow.provider.not_in(spent))
        chosen = _choose([(r[0], r[1]) for r in connection.execute(peek)], wanted, domain.budgets)
        if not chosen:
            break
        providers = dict(chosen)
        taken = connection.execute(
            update(LedgerRow)
            .where(LedgerRow.id.in_(list(providers)), *pending)
            .values(**lease)
            .returning(LedgerRow.id)
        )
        got = [row_id for (row_id,) in taken]
        for row_id in got:
            claimed.append(row_id)
            if providers[row_id] in domain.budgets:
                domain.budgets[providers[row_id]] -= 1
        if len(chosen) < wanted and len(got) == len(chosen):
            break  # no more candidates, and none was lost to another claimer
    return sorted(claimed)


def _claim_all(
    connection: Connection,
    shares: list[tuple[int, int]],
    room: int,
    *,
    batch_size: int,
    new_owner: Callable[[], str],
    deadline: datetime,
    now: datetime,
) -> list[Claimed]:
    """Every campaign's share in one statement (PostgreSQL, no provider budget to keep): each
    campaign's next rows by rank, cut into batches of ``batch_size``, each batch leased to its
    own owner. A tick over fifty campaigns is then one round trip a domain, not fifty."""
    campaigns: list[int] = []
    takes: list[int] = []
    bases: list[int] = []
    owners: list[str] = []
    for campaign_id, share in shares:
        take = min(share, room)
        if take <= 0:
            continue  # a campaign whose share is nothing this tick (or no room left)
        campaigns.append(campaign_id)
        takes.append(take)
        bases.append(len(owners))
        owners += [new_owner() for _ in range(-(-take // batch_size))]
        room -= take
    if not campaigns:
        return []
    taken = connection.execute(
        _CLAIM_ALL,
        {
            "campaigns": campaigns,
            "takes": takes,
            "bases": bases,
            "owners": owners,
            "batch": batch_size,
            "pending": LedgerState.PENDING.value,
            "claimed": LedgerState.CLAIMED.value,
            "deadline": deadline,
            "now": now,
        },
    )
    by_owner: dict[str, list[int]] = {}
    campaign_of: dict[str, int] = {}
    for row_id, campaign_id, owner in taken:
        by_owner.setdefault(owner, []).append(int(row_id))
        campaign_of[owner] = int(campaign_id)
    return [
        Claimed(campaign_of[owner], owner, sorted(by_owner[owner]))
        for owner in owners
        if owner in by_owner
    ]


# Each campaign's next ``take`` pending rows by rank (the claim index), numbered from 0; row n
# of a campaign goes to its batch n / batch, whose owner is owners[base + n / batch]. Rows taken
# meanwhile by someone else are no longer pending and are left out.
_CLAIM_ALL = text(
    """
    UPDATE send_ledger AS l
    SET state = :claimed,
        lease_owner = (CAST(:owners AS text[]))[p.base + p.n / :batch + 1],
        lease_deadline = :deadline,
        updated_at = :now
    FROM (
        SELECT r.id, w.base, r.n
        FROM unnest(CAST(:campaigns AS bigint[]), CAST(:takes AS int[]), CAST(:bases AS int[]))
             AS w(campaign_id, take, base)
        CROSS JOIN LATERAL (
            SELECT top.id, row_number() OVER (ORDER BY top.rank) - 1 AS n
            FROM (
                SELECT id, rank FROM send_ledger
                WHERE campaign_id = w.campaign_id AND state = :pending
                ORDER BY rank LIMIT w.take
            ) AS top
        ) AS r
    ) AS p
    WHERE l.id = p.id AND l.state = :pending
    RETURNING l.id, l.campaign_id, l.lease_owner
    """
)


@dataclass(frozen=True)
class Claimed:
    campaign_id: int
    owner: str
    row_ids: list[int]


@dataclass(frozen=True)
class ClaimOrder:
    """What a tick decided a domain claims, on the counters read in the claim's transaction."""

    day_cap: int  # the step's per-day cap
    shares: list[tuple[int, int]]  # (campaign, rows) to claim
    budgets: dict[str, int] = field(default_factory=dict)  # as DomainClaim.budgets


def claim_for_tick(
    connection: Connection,
    domain_id: int,
    fence: int | None,
    day_start: datetime,
    decide: Callable[[counters.DomainLoad], ClaimOrder | None],
    *,
    batch_size: int,
    new_owner: Callable[[], str],
    deadline: datetime,
    now: datetime,
) -> list[Claimed]:
    """A tick's claims for one domain, in one transaction (see the module's docstring): the
    fence, then one read of the domain's counters (sent today, in flight, left to send per
    running campaign), then ``decide`` on that read (None: nothing to claim), then the claims.
    The read that sizes the tick is the one that keeps the day's cap: nothing can change it
    before the claims commit."""
    take_fence(connection, domain_id, fence, now)
    load = counters.domain_load(connection, domain_id, day_start)
    order = decide(load)
    if order is None:
        return []
    domain = DomainClaim(domain_id, day_start, order.day_cap, fence, order.budgets)
    room = order.day_cap - load.accepted - load.in_flight
    if connection.dialect.name == "postgresql" and not domain.budgets:
        return _claim_all(
            connection, order.shares, room, batch_size=batch_size, new_owner=new_owner,
            deadline=deadline, now=now,
        )  # fmt: skip
    claimed: list[Claimed] = []
    for campaign_id, share in order.shares:
        left = share
        while left > 0 and room > 0:
            owner = new_owner()
            ids = _take_rows(
                connection,
                campaign_id,
                min(left, batch_size, room),
                owner=owner,
                deadline=deadline,
                now=now,
                domain=domain,
            )
            if not ids:
                break
            claimed.append(Claimed(campaign_id, owner, ids))
            left -= len(ids)
            room -= len(ids)
    return claimed
