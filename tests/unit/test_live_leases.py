"""A batch's live lease: the claim's own lease serves as the first one when it is fresh, so a
batch done before the first heartbeat writes no lease for its rows; otherwise the rows are held
at once, as a dead process's must lapse within one live lease."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from warmup.pipeline.leases import LiveLeases

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
LIVE = 30.0


class Frozen:
    def now(self) -> datetime:
        return NOW

    def real_seconds(self, seconds: float) -> float:
        return seconds

    def clock_seconds(self, real: float) -> float:
        return real


class Ledger:
    def __init__(self) -> None:
        self.holds: list[tuple[Sequence[int], str, datetime]] = []

    def hold(self, ids: Sequence[int], owner: str, until: datetime) -> int:
        self.holds.append((ids, owner, until))
        return len(ids)


def started(claim_left: float) -> tuple[Ledger, datetime | None]:
    ledger = Ledger()
    leases = LiveLeases(ledger, Frozen(), LIVE)  # type: ignore[arg-type]

    async def go() -> datetime | None:
        await leases.hold("b1", [1, 2, 3], NOW + timedelta(seconds=claim_left))
        until = leases.until("b1")
        leases.release("b1")
        await leases.stop()
        return until

    return ledger, asyncio.run(go())


@pytest.mark.parametrize("left", [LIVE * 2 / 3, LIVE * 0.9, LIVE])
def test_a_fresh_claims_lease_is_the_first_live_lease_and_nothing_is_written(
    left: float,
) -> None:
    ledger, until = started(left)
    assert ledger.holds == []
    assert until == NOW + timedelta(seconds=left)  # the batch stops sending before it


@pytest.mark.parametrize("left", [LIVE / 2, 1.0, LIVE * 3])
def test_a_claim_near_its_end_or_longer_than_a_live_lease_is_held_at_once(left: float) -> None:
    ledger, until = started(left)
    expected = NOW + timedelta(seconds=LIVE)
    assert ledger.holds == [([1, 2, 3], "b1", expected)]
    assert until == expected


def test_the_first_heartbeat_renews_a_fresh_claims_rows_before_its_lease_ends() -> None:
    from warmup.clock import SystemClock

    ledger, live = Ledger(), 0.3  # real seconds: the heartbeat comes every 0.1 s
    leases = LiveLeases(ledger, SystemClock(), live)  # type: ignore[arg-type]

    async def go() -> datetime:
        claimed_until = datetime.now(UTC) + timedelta(seconds=live * 0.7)
        await leases.hold("b1", [7], claimed_until)
        assert ledger.holds == []
        await asyncio.sleep(live * 0.5)  # past the first heartbeat, before the claim's end
        leases.release("b1")
        await leases.stop()
        return claimed_until

    claimed_until = asyncio.run(go())
    assert ledger.holds, "no heartbeat before the claim's lease ended"
    rows, owner, until = ledger.holds[0]
    assert (list(rows), owner) == ([7], "b1")
    assert until > claimed_until
