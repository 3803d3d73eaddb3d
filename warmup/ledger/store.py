"""The send ledger at work: claims with leases, results, expired leases.

A claim moves ``pending`` rows to ``claimed`` under a lease (an owner, the batch id, and a
deadline). Only the owner of a live claim may record a result, and only a ``claimed`` row is
ever sent, so a row ``accepted`` once is never sent again. A batch that dies (killed worker,
lost queue) leaves claims whose deadline passes; :meth:`LedgerStore.expire_claims` returns them
to ``pending``. Rows it had marked ``sending`` are settled from its wire journal
(:meth:`LedgerStore.settle_lapsed`): only those whose request may have left are in doubt.

Claims take the lowest ``rank`` first (most engaged), fenced and within the day's cap: see
:mod:`warmup.ledger.claims`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)

from warmup.ledger import counters
from warmup.ledger.claims import (
    Claimed,
    ClaimOrder,
    DomainClaim,
    claim_for_tick,
)
from warmup.ledger.counters import DomainLoad
from warmup.ledger.joins import RECIPIENT_FIELDS, in_domain, sent_over_smtp, with_recipient
from warmup.ledger.states import LedgerState
from warmup.sending.mime import SMTP_KEY_PREFIX
from warmup.store.database import Database
from warmup.store.models import LeaseRecovery, LedgerRow

ACCEPTED = LedgerState.ACCEPTED.value
CLAIMED = LedgerState.CLAIMED.value
PENDING = LedgerState.PENDING.value
SENDING = LedgerState.SENDING.value
VERIFYING = LedgerState.VERIFYING.value


@dataclass(frozen=True)
class WorkItem:
    id: int
    campaign_id: int
    address: str
    provider: str
    operation_id: str
    attempts: int
    fields: Mapping[str, Any]
    variant: str | None = None  # the A/B variant to send (None: the campaign's message)
    relay_message_id: int = 0  # a relayed message to send as it came (0: the campaign's)


@dataclass(frozen=True)
class Lapsed:
    """A batch whose lease lapsed with rows still ``sending``."""

    campaign_id: int
    rows: list[int]


@dataclass(frozen=True)
class Settled:
    """What a lapsed batch's wire journal says of its ``sending`` rows."""

    unsent: Sequence[SendResult] = ()  # never left: back to pending
    answered: Sequence[SendResult] = ()  # their answer was noted: recorded as it was
    in_doubt: Sequence[int] = ()  # may have left, no answer known
    journal_lost: bool = False  # nothing could be proved: every row in doubt


@dataclass(frozen=True)
class SendResult:
    """What became of one claimed row."""

    id: int
    # ACCEPTED, FAILED, SUPPRESSED (at send time), PENDING (not sent: try again later) or
    # VERIFYING (it may have reached ACS: ask before sending again)
    state: LedgerState
    attempts: int  # HTTP attempts made for it in this batch
    message_id: str | None = None
    error: str | None = None


class LedgerStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def claim(
        self,
        campaign_id: int,
        n: int,
        *,
        owner: str,
        deadline: datetime,
        now: datetime,
        domain: DomainClaim,
    ) -> list[int]:
        """Lease up to ``n`` pending rows of a campaign: fenced, within the domain's day cap,
        most engaged first across providers (see :mod:`warmup.ledger.claims`)."""
        if n <= 0:
            return []
        found = self.claim_batches(
            domain,
            [(campaign_id, n)],
            batch_size=n,
            new_owner=lambda: owner,
            deadline=deadline,
            now=now,
        )
        return sorted(row for claimed in found for row in claimed.row_ids)

    def claim_batches(
        self,
        domain: DomainClaim,
        shares: list[tuple[int, int]],
        *,
        batch_size: int,
        new_owner: Callable[[], str],
        deadline: datetime,
        now: datetime,
    ) -> list[Claimed]:
        """Claims of given sizes for one domain in one transaction: fenced, within the day's
        cap (:meth:`claim_for_tick` with the order already decided)."""
        return self.claim_for_tick(
            domain.domain_id,
            domain.fence,
            domain.day_start,
            lambda _load: ClaimOrder(domain.day_cap, shares, domain.budgets),
            batch_size=batch_size,
            new_owner=new_owner,
            deadline=deadline,
            now=now,
        )

    def claim_for_tick(
        self,
        domain_id: int,
        fence: int | None,
        day_start: datetime,
        decide: Callable[[DomainLoad], ClaimOrder | None],
        *,
        batch_size: int,
        new_owner: Callable[[], str],
        deadline: datetime,
        now: datetime,
    ) -> list[Claimed]:
        """A dispatcher tick's claims for one domain in one transaction, sized by ``decide``
        on the domain's counters read inside it (see :func:`.claims.claim_for_tick`)."""
        with self._db.engine.begin() as connection:
            return claim_for_tick(
                connection,
                domain_id,
                fence,
                day_start,
                decide,
                batch_size=batch_size,
                new_owner=new_owner,
                deadline=deadline,
                now=now,
            )

    def work(self, ids: Sequence[int], owner: str) -> list[WorkItem]:
        """The rows of a batch still claimed by it, in rank order, with their recipient fields."""
        if not ids:
            return []
        query = (
            with_recipient(
                select(
                    LedgerRow.id,
                    LedgerRow.campaign_id,
                    LedgerRow.address,
                    LedgerRow.provider,
                    LedgerRow.operation_id,
                    LedgerRow.attempts,
                    RECIPIENT_FIELDS,
                    LedgerRow.variant,
                    LedgerRow.relay_message_id,
                )
            )
            .where(
                LedgerRow.id.in_(ids), LedgerRow.state == CLAIMED, LedgerRow.lease_owner == owner
            )
            .order_by(LedgerRow.rank)
        )
        with self._db.session() as session:
            return [
                WorkItem(
                    id=row.id,
                    campaign_id=row.campaign_id,
                    address=row.address,
                    provider=row.provider,
                    operation_id=row.operation_id,
                    attempts=row.attempts,
                    fields=row.fields or {},
                    variant=row.variant,
                    relay_message_id=row.relay_message_id,
                )
                for row in session.execute(query)
            ]

    def record(self, outcomes: Sequence[SendResult], owner: str, at: datetime) -> int:
        """Store results in bulk; rows no longer claimed by ``owner`` are left alone."""
        if not outcomes:
            return 0
        with self._db.engine.begin() as connection:
            return _record(connection, outcomes, owner, at)

    def mark_sending(self, ids: Sequence[int], owner: str, at: datetime) -> set[int]:
        """Rows about to be posted: from now on only ACS can say whether they arrived.

        Returns the rows this batch still holds; a row whose lease lapsed (and may be someone
        else's now) is not among them and must not be sent.
        """
        if not ids:
            return set()
        with self._db.engine.begin() as connection:
            marked = connection.execute(
                update(LedgerRow)
                .where(
                    LedgerRow.id.in_(ids),
                    LedgerRow.state == CLAIMED,
                    LedgerRow.lease_owner == owner,
                )
                .values(state=SENDING, updated_at=at)
                .returning(LedgerRow.id)
            )
            return {row[0] for row in marked}

    def hold(self, ids: Sequence[int], owner: str, until: datetime) -> int:
        """Keep a live batch's rows leased until ``until``: the process that runs the batch
        calls this as it starts and then every few seconds (a heartbeat), so the lease of a
        live process never lapses and that of a dead one lapses soon. Returns the rows held."""
        if not ids:
            return 0
        with self._db.engine.begin() as connection:
            held = connection.execute(
                update(LedgerRow)
                .where(
                    LedgerRow.id.in_(ids),
                    LedgerRow.state.in_((CLAIMED, SENDING)),
                    LedgerRow.lease_owner == owner,
                )
                .values(lease_deadline=until)
            )
            return int(held.rowcount or 0)

    def expire_claims(self, now: datetime) -> int:
        """Claims whose lease has passed and that were never readied: back to ``pending``."""
        with self._db.engine.begin() as connection:
            returned = connection.execute(
                update(LedgerRow)
                .where(LedgerRow.state == CLAIMED, LedgerRow.lease_deadline < now)
                .values(state=PENDING, last_error="lease expired", **_cleared(now))
            )
            return int(returned.rowcount or 0)

    def lapsed_sending(self, now: datetime) -> dict[str, Lapsed]:
        """Rows marked ``sending`` whose lease has passed, by lease owner (their batch): what
        the owner's wire journal is asked about (:mod:`warmup.pipeline.recovery`)."""
        query = select(LedgerRow.lease_owner, LedgerRow.campaign_id, LedgerRow.id).where(
            LedgerRow.state == SENDING, LedgerRow.lease_deadline < now
        )
        found: dict[str, Lapsed] = {}
        with self._db.session() as session:
            for owner, campaign_id, row_id in session.execute(query):
                lapsed = found.setdefault(str(owner), Lapsed(int(campaign_id), []))
                lapsed.rows.append(int(row_id))
        return found

    def settle_lapsed(self, owner: str, lapsed: Lapsed, settled: Settled, now: datetime) -> int:
        """A lapsed batch's ``sending`` rows, once its wire journal was read (``settled``):
        rows that never left back to ``pending``, answered rows as noted, the rest in doubt:
        over REST ``verifying`` (ACS is asked before any second post); over SMTP, which
        cannot be asked, taken as accepted (at most once), its delivery report, matched by
        Message-ID, settling it. The split is kept in ``lease_recoveries``, in the same
        transaction."""
        with self._db.engine.begin() as connection:
            count = _record(connection, [*settled.unsent, *settled.answered], owner, now)
            if settled.in_doubt:
                count += _doubt(connection, owner, settled.in_doubt, now)
            connection.execute(
                insert(LeaseRecovery).values(
                    campaign_id=lapsed.campaign_id,
                    batch=owner,
                    at=now,
                    unsent=len(settled.unsent),
                    answered=len(settled.answered),
                    in_doubt=len(settled.in_doubt),
                    journal_lost=settled.journal_lost,
                )
            )
            return count

    def expire_leases(self, now: datetime) -> int:
        """Every lapsed lease, with no wire journal to ask: claims back to ``pending``, and
        every ``sending`` row in doubt (see :meth:`settle_lapsed`)."""
        expired = self.expire_claims(now)
        for owner, lapsed in self.lapsed_sending(now).items():
            settled = Settled(in_doubt=lapsed.rows, journal_lost=True)
            expired += self.settle_lapsed(owner, lapsed, settled, now)
        return expired

    def fold_counters(self) -> int:
        """Fold the counters' deltas into their totals (see :mod:`warmup.ledger.counters`)."""
        with self._db.engine.begin() as connection:
            return counters.fold(connection)

    def load(self, domain_id: int, since: datetime) -> DomainLoad:
        """The domain's sends since ``since``, rows in flight (claimed and not yet known as
        sent or not: rows in doubt count, as they may have been sent), rows left per running
        campaign and relayed rows waiting, in one read of the counters."""
        with self._db.session() as session:
            return counters.domain_load(session, domain_id, since)

    def posted_since(self, domain_id: int, since: datetime) -> list[tuple[str, datetime]]:
        """(provider group, when) of each of the domain's rows posted to ACS since ``since``:
        accepted (when accepted), or whose request may be out (``sending``, ``verifying``:
        when last changed). What the limiter's windows counted, to rebuild them from.

        Two index ranges, one per kind (an OR of them is planned as a walk through every row
        of the domain's campaigns): the accepted by time, the rows in doubt by state and time
        (those not already counted among the accepted)."""
        may_be_out = [LedgerState.SENDING.value, LedgerState.VERIFYING.value]
        accepted = in_domain(
            select(LedgerRow.provider, LedgerRow.accepted_at.label("at")), domain_id
        ).where(LedgerRow.accepted_at >= since)
        in_doubt = in_domain(
            select(
                LedgerRow.provider,
                func.coalesce(LedgerRow.accepted_at, LedgerRow.updated_at).label("at"),
            ),
            domain_id,
        ).where(
            LedgerRow.state.in_(may_be_out),
            LedgerRow.updated_at >= since,
            or_(LedgerRow.accepted_at.is_(None), LedgerRow.accepted_at < since),
        )
        both = union_all(accepted, in_doubt).subquery()
        with self._db.session() as session:
            posted = session.execute(select(both.c.provider, both.c.at))
            return [(str(provider), at) for provider, at in posted]

    def accepted_window(self, domain_id: int, since: datetime) -> tuple[int, datetime | None]:
        """(sends ACS accepted since ``since``, the oldest of them)."""
        query = in_domain(
            select(func.count(), func.min(LedgerRow.accepted_at)).select_from(LedgerRow),
            domain_id,
        ).where(LedgerRow.accepted_at >= since)
        with self._db.session() as session:
            count, oldest = session.execute(query).one()
        return int(count or 0), oldest  # min() keeps the column's type: an aware UTC time

    def accepted_since(self, domain_id: int, since: datetime, until: datetime | None = None) -> int:
        """Sends of the domain ACS accepted in [since, until) (see
        :func:`warmup.ledger.counters.accepted_since`)."""
        with self._db.session() as session:
            return counters.accepted_since(session, domain_id, since, until)


def _record(
    connection: Connection, outcomes: Sequence[SendResult], owner: str, at: datetime
) -> int:
    if not outcomes:
        return 0
    if connection.dialect.name == "postgresql":
        # One statement for the batch: the ledger's statement-level counting trigger then
        # runs once per batch, not once per row as under an executemany.
        result = connection.execute(
            _RECORD_FROM_ARRAYS,
            {
                "owner": owner,
                "now": at,
                "claimed": CLAIMED,
                "sending": SENDING,
                "ids": [o.id for o in outcomes],
                "states": [o.state.value for o in outcomes],
                "message_ids": [o.message_id for o in outcomes],
                "errors": [o.error for o in outcomes],
                "tries": [o.attempts for o in outcomes],
                "accepted": [at if o.state is LedgerState.ACCEPTED else None for o in outcomes],
            },
        )
        return int(result.rowcount or 0)
    result = connection.execute(_RECORD_ONE, [_record_values(o, owner, at) for o in outcomes])
    return int(result.rowcount or 0)


def _doubt(connection: Connection, owner: str, rows: Sequence[int], now: datetime) -> int:
    """Lapsed ``sending`` rows whose request may have left: over REST ``verifying``; over
    SMTP, which cannot be asked, taken as accepted (at most once)."""
    lapsed = (
        LedgerRow.id.in_(list(rows)),
        LedgerRow.state == SENDING,
        LedgerRow.lease_owner == owner,
        LedgerRow.lease_deadline < now,
    )
    over_smtp = sent_over_smtp()
    taken = connection.execute(
        update(LedgerRow)
        .where(*lapsed, over_smtp)
        .values(
            state=ACCEPTED,
            message_id=literal(SMTP_KEY_PREFIX) + LedgerRow.operation_id,
            accepted_at=now,
            last_error="lease expired while its SMTP transaction may have been under way: in "
            "doubt, taken as accepted, never sent again",
            **_cleared(now),
        )
    )
    doubtful = connection.execute(
        update(LedgerRow)
        .where(*lapsed)
        .values(
            state=VERIFYING,
            last_error="lease expired while its request may have been out: asking ACS",
            **_cleared(now),
        )
    )
    return int(taken.rowcount or 0) + int(doubtful.rowcount or 0)


def _cleared(at: datetime) -> dict[str, Any]:
    return {"lease_owner": None, "lease_deadline": None, "updated_at": at}


def _record_values(outcome: SendResult, owner: str, at: datetime) -> dict[str, Any]:
    return {
        "row_id": outcome.id,
        "owner": owner,
        "new_state": outcome.state.value,
        "message_id": outcome.message_id,
        "error": outcome.error,
        "tries": outcome.attempts,
        "accepted_at": at if outcome.state is LedgerState.ACCEPTED else None,
        "now": at,
    }


_TABLE = cast(Table, LedgerRow.__table__)
# SQLite: one row per execution of an executemany.
_RECORD_ONE = (
    update(_TABLE)
    .where(
        and_(
            _TABLE.c.id == bindparam("row_id"),
            # or_ rather than IN: an expanding IN cannot go into an executemany
            or_(_TABLE.c.state == CLAIMED, _TABLE.c.state == SENDING),
            _TABLE.c.lease_owner == bindparam("owner"),
        )
    )
    .values(
        state=bindparam("new_state"),
        message_id=func.coalesce(bindparam("message_id"), _TABLE.c.message_id),
        last_error=bindparam("error"),
        attempts=_TABLE.c.attempts + bindparam("tries"),
        accepted_at=bindparam("accepted_at"),
        lease_owner=None,
        lease_deadline=None,
        updated_at=bindparam("now"),
    )
)
# PostgreSQL: the batch's results as arrays, unnested and joined to their rows.
_RECORD_FROM_ARRAYS = text(
    """
    UPDATE send_ledger AS l
    SET state = v.state,
        message_id = COALESCE(v.message_id, l.message_id),
        last_error = v.error,
        attempts = l.attempts + v.tries,
        accepted_at = v.accepted_at,
        lease_owner = NULL,
        lease_deadline = NULL,
        updated_at = :now
    FROM unnest(
        CAST(:ids AS bigint[]), CAST(:states AS text[]), CAST(:message_ids AS text[]),
        CAST(:errors AS text[]), CAST(:tries AS int[]), CAST(:accepted AS timestamptz[])
    ) AS v(id, state, message_id, error, tries, accepted_at)
    WHERE l.id = v.id AND l.state IN (:claimed, :sending) AND l.lease_owner = :owner
    """
)
