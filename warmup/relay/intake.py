"""Taking a relayed message: durable in the ledger before the client hears ``250``.

The only writer of ``relay_messages``. One transaction stores the message as it came and one
ledger row per recipient in the domain's transactional stream; only after it commits does the
relay answer ``250``, so a relay killed at any moment loses no message it acknowledged (and a
message it did not acknowledge is the client's to retry, as MTAs do).

Before that, the domain is asked whether it can take more (:meth:`RelayIntake.refusal`): a
paused domain, a paused stream, a day's cap already spoken for or more than an hour of
relayed mail waiting are answered ``451 4.7.1`` with the reason, so the client retries later
and nothing is dropped in silence. Those answers are cached for a second per domain: checking
them costs a few queries, and a relay may take hundreds of messages a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.streams import Stream, TransactionalStreams
from warmup.control.allowance import day_start
from warmup.control.providers import provider_group
from warmup.domains.store import DomainStore
from warmup.ledger.fill import enqueue_relayed
from warmup.ledger.states import OPEN
from warmup.ledger.store import LedgerStore
from warmup.relay.users import RelayAccount
from warmup.sending.mime import from_mime
from warmup.store.database import Database
from warmup.store.models import LedgerRow, RelayMessage

GATE_TTL = 1.0


@dataclass(frozen=True)
class _Verdict:
    stream: Stream | None
    refusal: str | None
    checked_at: float


class RelayIntake:
    def __init__(
        self, database: Database, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = database
        self._domains = DomainStore(database)
        self._streams = TransactionalStreams(database)
        self._ledger = LedgerStore(database)
        self._monotonic = monotonic
        self._verdicts: dict[str, _Verdict] = {}

    def refusal(self, account: RelayAccount, at: datetime) -> str | None:
        """Why the account's domain cannot take a message now, or ``None`` when it can."""
        return self._verdict(account, at).refusal

    def _verdict(self, account: RelayAccount, at: datetime) -> _Verdict:
        cached = self._verdicts.get(account.domain)
        now = self._monotonic()
        if cached is not None and now - cached.checked_at < GATE_TTL:
            return cached
        verdict = self._judge(account, at, now)
        self._verdicts[account.domain] = verdict
        return verdict

    def _judge(self, account: RelayAccount, at: datetime, now: float) -> _Verdict:
        record = self._domains.get(account.domain)
        state = record.state
        if not state.sends:
            return _Verdict(
                None, f"domain {state.domain} is {state.status.value}: {state.reason}", now
            )
        stream = self._streams.for_domain(state.domain, record.id, at)
        if stream.status is not CampaignStatus.RUNNING:
            return _Verdict(
                stream, f"the transactional stream of {state.domain} is {stream.status.value}", now
            )
        step = record.plan.step(state.step)
        waiting = self._ledger.relay_waiting(record.id)
        sent_today = self._ledger.accepted_since(record.id, day_start(record.plan, at))
        if sent_today + waiting >= step.per_day:
            return _Verdict(
                stream,
                f"the daily cap of {state.domain} ({step.per_day:,} at step {state.step}) is "
                "spent: try again tomorrow",
                now,
            )
        if waiting >= step.per_hour:
            return _Verdict(
                stream,
                f"{waiting:,} relayed messages already wait for {state.domain}, more than an "
                f"hour at its cap ({step.per_hour:,}/hour): try again later",
                now,
            )
        return _Verdict(stream, None, now)

    def _waiting(self, campaign_id: int) -> int:
        query = (
            select(func.count())
            .select_from(LedgerRow)
            .where(
                LedgerRow.campaign_id == campaign_id, LedgerRow.state.in_([s.value for s in OPEN])
            )
        )
        with self._db.session() as session:
            return int(session.scalar(query) or 0)

    def accept(
        self,
        account: RelayAccount,
        *,
        mail_from: str,
        recipients: list[str],
        raw: bytes,
        at: datetime,
    ) -> int:
        """Store the message and its rows in one transaction; return the message's id. The
        caller has checked :meth:`refusal` first and normalised the recipients."""
        stream = self._verdict(account, at).stream
        if stream is None:
            raise RuntimeError("accept() before refusal() said the domain can take it")
        with self._db.engine.begin() as connection:
            message_id = int(
                connection.execute(
                    insert(RelayMessage).values(
                        domain_id=account.domain_id,
                        user_name=account.name,
                        mail_from=mail_from,
                        size=len(raw),
                        raw=raw,
                        received_at=at,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            enqueue_relayed(
                connection,
                campaign_id=stream.campaign_id,
                relay_message_id=message_id,
                addresses=[(a, provider_group(a).value) for a in dict.fromkeys(recipients)],
                at=at,
            )
        return message_id

    def message_for(self, message_id: int, address: str) -> dict[str, Any]:
        """The relayed message as the ACS request that sends it to one of its recipients."""
        query = select(RelayMessage.mail_from, RelayMessage.raw).where(
            RelayMessage.id == message_id
        )
        with self._db.session() as session:
            found = session.execute(query).first()
        if found is None:
            raise LookupError(f"relayed message {message_id} is gone")
        return from_mime(bytes(found.raw), sender=found.mail_from, to=address)
