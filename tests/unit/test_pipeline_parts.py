import time
from datetime import UTC, datetime, timedelta

import pytest

from warmup.campaigns.model import CampaignStatus
from warmup.clock import ScaledClock, SystemClock, clock_for
from warmup.control.state import Status
from warmup.domains.store import DomainStatus
from warmup.ledger.outcomes import AwaitingOutcome, InDoubt
from warmup.pipeline.dispatch import Batch
from warmup.pipeline.gate import Gate
from warmup.pipeline.outcome_poll import StatusPoller
from warmup.ratelimit.memory import InMemoryLimiter


def test_a_batch_survives_the_queue_as_json() -> None:
    deadline = datetime(2026, 12, 1, 9, tzinfo=UTC)
    batch = Batch("b-1", 7, "mail.example.com", (3, 1, 2), deadline, deadline - timedelta(0, 270))
    assert Batch.from_message(batch.to_message()) == batch
    assert batch.claimed_until == deadline - timedelta(seconds=270)
    # A message from before queue leases: its rows were claimed until its deadline.
    older = Batch("b-2", 7, "mail.example.com", (4,), deadline)
    assert Batch.from_message(older.to_message()) == older
    assert older.claimed_until == deadline


def test_scaled_clocks_agree_across_processes_and_convert_durations() -> None:
    origin = time.time() - 10  # started 10 real seconds ago
    clock = ScaledClock(scale=3600, origin=origin)
    elapsed = clock.now().timestamp() - origin
    assert 10 * 3600 <= elapsed <= 11 * 3600  # ten real seconds are ten clock hours
    assert clock.real_seconds(3600) == 1.0
    assert clock.clock_seconds(2.0) == 7200
    assert isinstance(clock_for(1.0, None), SystemClock)
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0, origin)


class CountingGate(Gate):
    def __init__(self, now: list[float]) -> None:
        super().__init__(None, None, ttl=0.5, monotonic=lambda: now[0])  # type: ignore[arg-type]
        self.reads = 0
        self.answer: str | None = None

    def _read(self, campaign_id: int, now: float) -> tuple[str | None, float]:
        self.reads += 1
        return self.answer, now


def test_the_gate_rereads_after_its_ttl_so_a_pause_lands_quickly() -> None:
    now = [100.0]
    gate = CountingGate(now)
    assert gate.closed(1) is None
    gate.answer = "domain paused"
    now[0] += 0.4
    assert gate.closed(1) is None  # still cached
    now[0] += 0.2
    assert gate.closed(1) == "domain paused"
    assert gate.reads == 2


class OneDomain:
    """Stand-ins for the two owners: three running campaigns on domain 7."""

    def __init__(self) -> None:
        self.domain_reads = 0
        self.status = Status.RAMPING

    def status_and_domain(self, campaign_id: int) -> tuple[CampaignStatus, int]:
        return CampaignStatus.RUNNING, 7

    def status_by_id(self, domain_id: int) -> DomainStatus:
        self.domain_reads += 1
        return DomainStatus("mail.example.com", self.status, "ops")


def test_the_gate_reads_a_domain_once_for_all_its_campaigns_and_rereads_after_its_ttl() -> None:
    now = [100.0]
    owners = OneDomain()
    gate = Gate(owners, owners, ttl=0.5, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert [gate.closed(c) for c in (1, 2, 3)] == [None, None, None]
    assert owners.domain_reads == 1
    owners.status = Status.PAUSED
    now[0] += 0.6
    assert gate.closed(2) == "domain mail.example.com paused: ops"
    assert gate.closed(3) == "domain mail.example.com paused: ops"
    assert owners.domain_reads == 2


def test_a_pause_reaches_every_campaign_within_one_ttl_though_domain_reads_are_shared() -> None:
    now = [100.0]
    owners = OneDomain()
    gate = Gate(owners, owners, ttl=0.5, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert gate.closed(1) is None  # the domain read at 100.0
    now[0] = 100.4
    assert gate.closed(2) is None  # campaign 2's first answer, on the domain read at 100.0
    owners.status = Status.PAUSED  # just after 100.4
    now[0] = 100.5
    # Campaign 2's answer is dated by its domain read (100.0), not by 100.4: it is stale now.
    assert gate.closed(2) == "domain mail.example.com paused: ops"
    assert gate.closed(1) == "domain mail.example.com paused: ops"


def test_lease_safety_is_a_fifth_of_the_lease_at_most_ten_seconds() -> None:
    from warmup.pipeline.batch import BatchContext

    short = BatchContext(None, None, None, None, None, "s", 0, 1, None, None, None, lease_seconds=8)  # type: ignore[arg-type]
    long = BatchContext(
        None, None, None, None, None, "s", 0, 1, None, None, None, lease_seconds=300
    )  # type: ignore[arg-type]
    assert short.lease_safety == timedelta(seconds=1.6)
    assert long.lease_safety == timedelta(seconds=10)


class NoFallback:
    """No accepted rows awaiting an outcome, unless ``waiting`` names some."""

    def __init__(self, waiting: int = 0) -> None:
        self.waiting = waiting
        self.recorded = 0

    def give_up(self, **_: object) -> int:
        return 0

    def sample(self, *, limit: int, **_: object) -> list[AwaitingOutcome]:
        return [AwaitingOutcome(i, f"msg-{i}") for i in range(min(self.waiting, limit))]

    def record(self, found: dict[int, object], at: object) -> int:
        self.recorded += len(found)
        return 0


class Doubtful:
    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.settled: list[int] = []

    def waiting(self, limit: int) -> list[InDoubt]:
        return [InDoubt(i, f"op-{i}") for i in range(self.rows) if i not in self.settled][:limit]

    def settle(self, row_id: int, answer: object, at: object) -> bool:
        self.settled.append(row_id)
        return True


def poller_for(
    fallback: NoFallback, doubtful: Doubtful, asked: list[str], *, per_hour: int
) -> StatusPoller:
    def lookup(ids: list[str]) -> dict[str, None]:
        asked.extend(ids)
        return dict.fromkeys(ids)

    return StatusPoller(
        fallback,  # type: ignore[arg-type]
        InMemoryLimiter(),
        "acs.example",
        lambda ids: {i: ("Running", None) for i in ids},
        poll_after=60,
        per_minute=60,
        unknown_after=3600,
        per_hour=per_hour,
        doubtful=doubtful,  # type: ignore[arg-type]
        lookup=lookup,
    )


T0 = datetime(2026, 12, 1, tzinfo=UTC)


def test_status_gets_for_rows_in_doubt_stay_within_the_hourly_budget() -> None:
    asked: list[str] = []
    poller = poller_for(NoFallback(), Doubtful(5), asked, per_hour=2)
    for minute in range(5):
        poller.run(T0.replace(minute=minute))
    assert asked == ["op-0", "op-1"]  # 2 an hour, however many minutes pass


def test_sampled_outcome_polls_leave_half_the_hour_to_rows_in_doubt() -> None:
    # Delivery reports are late for thousands of rows: sampling would spend the whole hour.
    # A worker then dies, leaving rows in doubt: they must still be asked about this hour.
    asked: list[str] = []
    fallback, doubtful = NoFallback(waiting=5_000), Doubtful(0)
    poller = poller_for(fallback, doubtful, asked, per_hour=100)
    for minute in range(10):
        poller.run(T0.replace(minute=minute))
    assert fallback.recorded == 50  # half of the hour, then no more
    doubtful.rows = 80
    for minute in range(10, 20):
        poller.run(T0.replace(minute=minute))
    assert len(asked) == 50  # the other half, all of it for the rows in doubt
    assert fallback.recorded == 50


def test_rows_in_doubt_are_settled_at_the_status_budget_left_then_per_minute_and_hour() -> None:
    from warmup.pipeline.outcome_poll import StatusBudget

    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    budget = StatusBudget(minute_left=5, hour_left=40, per_minute=20, per_hour=150)
    assert budget.settled_by(0, at) is None
    assert budget.settled_by(5, at) == at  # this minute's five
    assert budget.settled_by(25, at) == at + timedelta(minutes=1)
    assert budget.settled_by(40, at) == at + timedelta(minutes=2)  # 5 + 20 + 15
    # 40 left this hour: the 41st waits for the next hour's budget
    assert budget.settled_by(41, at) == at + timedelta(minutes=2, hours=1)
    assert StatusBudget(0, 0, 0, 0).settled_by(3, at) is None  # no budget: never
    unbounded = StatusBudget(minute_left=0, hour_left=None, per_minute=20, per_hour=None)
    assert unbounded.settled_by(20, at) == at + timedelta(minutes=1)
