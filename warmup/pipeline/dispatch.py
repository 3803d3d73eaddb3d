"""One dispatcher tick: how many may each domain send now, and which rows go out.

For every sending domain, in one transaction: take the domain's fence, read its counters once
(sent today, rows in flight, rows left per running campaign), ask the controller for the
allowance given those and the limiter's trailing minute and hour, split what is left between
the running campaigns (priority, then fair share), and claim that many rows — most engaged
first across the whole list, each provider group within its budget — as batches for the
workers. The read that sizes the claim is the one that keeps the day's cap
(:mod:`warmup.ledger.claims`), so two ticks at once cannot exceed it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from warmup.clock import Clock
from warmup.control.allowance import Allowance, Usage, allowance, day_start
from warmup.control.fair_share import Demand, split
from warmup.domains.record import DomainRecord
from warmup.domains.store import DomainStore
from warmup.ledger.claims import ClaimOrder, StaleFence
from warmup.ledger.counters import DomainLoad
from warmup.ledger.store import LedgerStore
from warmup.pipeline import send_limits as limits
from warmup.plans.model import ProviderGroup
from warmup.ratelimit.base import Limiter


@dataclass(frozen=True)
class Batch:
    id: str
    campaign_id: int
    domain: str
    row_ids: tuple[int, ...]
    deadline: datetime  # no send starts after this (WARMUP_LEASE_SECONDS from the claim)
    # The claim's lease in the ledger: the rows are this batch's until then, unless a process
    # that started it holds them longer (its live lease). None: the deadline (older messages).
    queued_until: datetime | None = None

    @property
    def claimed_until(self) -> datetime:
        return self.deadline if self.queued_until is None else self.queued_until

    def to_message(self) -> dict[str, object]:
        message: dict[str, object] = {
            "id": self.id,
            "campaign_id": self.campaign_id,
            "domain": self.domain,
            "row_ids": list(self.row_ids),
            "deadline": self.deadline.isoformat(),
        }
        if self.queued_until is not None:
            message["queued_until"] = self.queued_until.isoformat()
        return message

    @classmethod
    def from_message(cls, message: dict[str, object]) -> Batch:
        return cls(
            id=str(message["id"]),
            campaign_id=int(message["campaign_id"]),  # type: ignore[call-overload]
            domain=str(message["domain"]),
            row_ids=tuple(int(i) for i in message["row_ids"]),  # type: ignore[attr-defined]
            deadline=datetime.fromisoformat(str(message["deadline"])),
            queued_until=(
                datetime.fromisoformat(str(message["queued_until"]))
                if "queued_until" in message
                else None
            ),
        )


@dataclass
class TickReport:
    batches: list[Batch] = field(default_factory=list)
    allowances: dict[str, Allowance] = field(default_factory=dict)
    stale: bool = False  # a newer tick had claimed: this one stopped

    @property
    def claimed(self) -> int:
        return sum(len(b.row_ids) for b in self.batches)


@dataclass(frozen=True)
class DispatchConfig:
    batch_size: int
    lease_seconds: float
    queue_lease_seconds: float
    max_claim_per_tick: int
    margin: float


class Dispatcher:
    def __init__(
        self,
        domains: DomainStore,
        ledger: LedgerStore,
        limiter: Limiter,
        clock: Clock,
        config: DispatchConfig,
    ) -> None:
        self._domains = domains
        self._ledger = ledger
        self._limiter = limiter
        self._clock = clock
        self._config = config

    def usage(self, record: DomainRecord, now: datetime, today: int) -> Usage:
        """The domain's sends in the limiter's trailing windows, and ``today``'s from the
        ledger's counters."""
        stamp = now.timestamp()
        margin = self._config.margin
        minute = limits.domain_minute(record, margin)
        provider_hour = {
            group: self._limiter.used(limit, stamp)
            for group in ProviderGroup
            if (limit := limits.provider_hour(record, group.value, margin)) is not None
        }
        return Usage(
            last_minute=self._limiter.used(minute, stamp) if minute is not None else 0,
            last_hour=self._limiter.used(limits.domain_hour(record, margin), stamp),
            today=today,
            provider_last_hour=provider_hour,
        )

    def tick(self, fence: int | None = None) -> TickReport:
        """Claim what every domain may send now. ``fence`` is this tick's fencing token: a tick
        older than one that already claimed for a domain claims nothing more for it."""
        now = self._clock.now()
        report = TickReport()
        # Keeps the counters' deltas a second's worth, so every read below stays a few rows.
        self._ledger.fold_counters()
        for record in self._domains.all():
            if not record.state.sends:
                continue
            deadline = now + timedelta(seconds=self._config.lease_seconds)
            queued_until = now + timedelta(
                seconds=min(self._config.queue_lease_seconds, self._config.lease_seconds)
            )
            try:
                claimed = self._ledger.claim_for_tick(
                    record.id,
                    fence,
                    day_start(record.plan, now),
                    partial(self._order, record, now, report),
                    batch_size=self._config.batch_size,
                    new_owner=lambda: str(uuid.uuid4()),
                    deadline=queued_until,
                    now=now,
                )
            except StaleFence:
                report.stale = True
                break
            report.batches += [
                Batch(
                    c.owner,
                    c.campaign_id,
                    record.state.domain,
                    tuple(c.row_ids),
                    deadline,
                    queued_until,
                )
                for c in claimed
            ]
        return report

    def _order(
        self, record: DomainRecord, now: datetime, report: TickReport, load: DomainLoad
    ) -> ClaimOrder | None:
        """How many rows of which campaigns the domain claims now, given its counters (read
        in the claim's transaction) and the limiter's windows."""
        granted = allowance(
            record.plan, record.state, now, self.usage(record, now, load.accepted), record.quota
        )
        report.allowances[record.state.domain] = granted
        # At most one tick's worth waits claimed: a claim lapses if its batch waits in the queue
        # past the queue lease, so claiming ahead of what the workers take only churns.
        backlog_room = self._config.max_claim_per_tick - load.claimed
        available = min(granted.total - load.in_flight, backlog_room)
        demands = [Demand(*campaign) for campaign in load.demand]
        if available <= 0 or not demands:
            return None
        return ClaimOrder(
            day_cap=record.plan.step(record.state.step).per_day,
            shares=list(split(available, demands).items()),
            # Provider budgets cap each group's share; they do not choose who goes first.
            budgets={g.value: granted.for_provider(g) for g in granted.per_provider},
        )
