"""Taking a relayed message: durable in the ledger before the client hears ``250``.

The only writer of ``relay_messages``. One transaction stores the message as it came and one
ledger row per recipient in the domain's transactional stream; only after it commits does the
relay answer ``250``, so a relay killed at any moment loses no message it acknowledged (and a
message it did not acknowledge is the client's to retry, as MTAs do).

Before that, the domain is asked whether it can take more (:meth:`RelayIntake.refusal`): a
paused domain, a domain whose SPF, DKIM or DMARC ACS last found not verified, a paused
stream, a day's cap already spoken for or more than an hour of relayed mail waiting are
answered ``451 4.7.1`` with the reason, so the client retries later and nothing is dropped in
silence. (Campaigns take the same DNS gate at start, where ops may override it with a reason;
relayed mail has no one to ask, so it waits until a check finds the records verified.)
Those answers are cached for a second per domain: checking them costs a few queries, and a
relay may take hundreds of messages a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, insert, select

from warmup import audit
from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.streams import RELAY, Stream, TransactionalStreams
from warmup.control.allowance import day_start
from warmup.control.authentication import unauthenticated
from warmup.control.providers import provider_group
from warmup.domains.store import DomainStore
from warmup.ledger.fill import RelayedRows, enqueue_relayed
from warmup.ledger.states import OPEN
from warmup.ledger.store import LedgerStore
from warmup.relay.users import RelayAccount
from warmup.sending.mime import from_mime
from warmup.store.database import Database
from warmup.store.models import Campaign, LedgerRow, RelayMessage

GATE_TTL = 1.0


@dataclass(frozen=True)
class Submission:
    """One message as a relay user submitted it (recipients normalised)."""

    account: RelayAccount
    mail_from: str
    recipients: list[str]
    raw: bytes
    at: datetime


@dataclass(frozen=True)
class Verdict:
    stream: Stream | None
    refusal: str | None
    checked_at: float


class RelayIntake:
    def __init__(
        self,
        database: Database,
        domains: DomainStore,
        ledger: LedgerStore,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = database
        self._domains = domains
        self._streams = TransactionalStreams(database)
        self._ledger = ledger
        self._monotonic = monotonic
        self._verdicts: dict[str, Verdict] = {}

    def known_refusal(self, account: RelayAccount) -> Verdict | None:
        """The verdict on the account's domain when one fresh enough is at hand (no query:
        the relay asks on its event loop first, and only goes to a thread when this is None)."""
        cached = self._verdicts.get(account.domain)
        if cached is not None and self._monotonic() - cached.checked_at < GATE_TTL:
            return cached
        return None

    def refusal(self, account: RelayAccount, at: datetime) -> str | None:
        """Why the account's domain cannot take a message now, or ``None`` when it can."""
        return self._verdict(account, at).refusal

    def _verdict(self, account: RelayAccount, at: datetime) -> Verdict:
        cached = self.known_refusal(account)
        if cached is not None:
            return cached
        verdict = self._judge(account, at, self._monotonic())
        self._verdicts[account.domain] = verdict
        return verdict

    def _judge(self, account: RelayAccount, at: datetime, now: float) -> Verdict:
        record = self._domains.get(account.domain)
        state = record.state
        if not state.sends:
            return Verdict(
                None, f"domain {state.domain} is {state.status.value}: {state.reason}", now
            )
        if record.authentication is not None:
            missing = unauthenticated(record.authentication.states)
            if missing:
                return Verdict(
                    None,
                    f"ACS found {', '.join(missing)} of {state.domain} not verified: relayed "
                    "mail waits until `warmup acs domain check` finds it verified",
                    now,
                )
        stream = self._streams.for_domain(state.domain, record.id, at)
        if stream.status is not CampaignStatus.RUNNING:
            return Verdict(
                stream, f"the transactional stream of {state.domain} is {stream.status.value}", now
            )
        step = record.plan.step(state.step)
        load = self._ledger.load(record.id, day_start(record.plan, at))
        waiting, sent_today = load.relay_waiting, load.accepted
        if sent_today + waiting >= step.per_day:
            return Verdict(
                stream,
                f"the daily cap of {state.domain} ({step.per_day:,} at step {state.step}) is "
                "spent: try again tomorrow",
                now,
            )
        if waiting >= step.per_hour:
            return Verdict(
                stream,
                f"{waiting:,} relayed messages already wait for {state.domain}, more than an "
                f"hour at its cap ({step.per_hour:,}/hour): try again later",
                now,
            )
        return Verdict(stream, None, now)

    def accept(self, submissions: Sequence[Submission]) -> list[int]:
        """Store the messages and their rows in one transaction (one flush of the database's
        log for all of them); return the messages' ids, in order. The caller has checked
        :meth:`refusal` for each account and normalised the recipients."""
        streams = []
        for submission in submissions:
            stream = self._verdict(submission.account, submission.at).stream
            if stream is None:
                raise RuntimeError("accept() before refusal() said the domain can take it")
            streams.append(stream)
        with self._db.engine.begin() as connection:
            ids = [
                int(row[0])
                for row in connection.execute(
                    insert(RelayMessage).returning(RelayMessage.id, sort_by_parameter_order=True),
                    [
                        {
                            "domain_id": s.account.domain_id,
                            "user_name": s.account.name,
                            "mail_from": s.mail_from,
                            "size": len(s.raw),
                            "raw": s.raw,
                            "received_at": s.at,
                        }
                        for s in submissions
                    ],
                )
            ]
            enqueue_relayed(
                connection,
                [
                    RelayedRows(
                        campaign_id=stream.campaign_id,
                        relay_message_id=message_id,
                        addresses=[
                            (a, provider_group(a).value) for a in dict.fromkeys(s.recipients)
                        ],
                        at=s.at,
                    )
                    for s, stream, message_id in zip(submissions, streams, ids, strict=True)
                ],
            )
        return ids

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


@dataclass(frozen=True)
class Forgotten:
    """Relayed messages whose bodies retention deleted (or would delete, in a dry run)."""

    messages: int
    bytes: int


FORGET_CHUNK = 5_000  # messages per transaction


def _sent_before(received_before: datetime) -> ColumnElement[bool]:
    """Messages received before the date that no ledger row still needs: each of their rows
    is final (accepted, failed, suppressed, skipped). Final rows never reopen, so a body
    found unneeded stays so. The rows still open are read through the claim index (stream
    campaigns and open states), however large the ledger's history."""
    streams = select(Campaign.id).where(Campaign.kind == RELAY)
    needed = exists().where(
        LedgerRow.relay_message_id == RelayMessage.id,
        LedgerRow.campaign_id.in_(streams.scalar_subquery()),
        LedgerRow.state.in_([state.value for state in OPEN]),
    )
    return (RelayMessage.received_at < received_before) & ~needed


def forget_sent(
    database: Database,
    received_before: datetime,
    *,
    actor: str,
    at: datetime,
    dry_run: bool = False,
    progress: Callable[[Forgotten], None] | None = None,
) -> Forgotten:
    """Delete the bodies of relayed messages received before the date once every row that
    sends them is final (``warmup db prune``). Nothing else needs a body after that, and
    keeping mail content for ever is both the largest cost of the relay's tables and a
    privacy risk. The ledger rows (who, when, the outcome) and the audit log stay. In
    transactions of :data:`FORGET_CHUNK` messages; ``progress`` hears the running total."""
    done = select(RelayMessage.id).where(_sent_before(received_before))
    if dry_run:
        with database.engine.connect() as connection:
            counted = connection.execute(
                select(func.count(), func.coalesce(func.sum(RelayMessage.size), 0)).where(
                    _sent_before(received_before)
                )
            ).one()
        return Forgotten(int(counted[0]), int(counted[1]))
    total = Forgotten(0, 0)
    while True:
        with database.engine.begin() as connection:
            ids = list(connection.scalars(done.order_by(RelayMessage.id).limit(FORGET_CHUNK)))
            if not ids:
                break
            sizes = connection.scalars(
                delete(RelayMessage).where(RelayMessage.id.in_(ids)).returning(RelayMessage.size)
            ).all()
            chunk = Forgotten(len(sizes), sum(sizes))
            audit.record(
                connection,
                "relay",
                "messages",
                "prune",
                actor=actor,
                at=at,
                reason=(
                    f"bodies of {chunk.messages:,} relayed messages received before "
                    f"{received_before:%Y-%m-%d}, all sent ({chunk.bytes:,} bytes), deleted"
                ),
            )
        total = Forgotten(total.messages + chunk.messages, total.bytes + chunk.bytes)
        if progress is not None:
            progress(total)
    return total
