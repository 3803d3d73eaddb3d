"""Two dispatchers at once never exceed a domain's day cap, and a tick whose lock lapsed
cannot claim once a newer tick has."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from harness.pipeline_world import world
from warmup.domains.store import DomainStore
from warmup.ledger.claims import DomainClaim, StaleFence
from warmup.store.models import LedgerRow

pytestmark = pytest.mark.integration

DAY_CAP = 40
SMALL_DAY = f"""
name: small-day
quota: {{per_minute: 1000000, per_hour: 10000000, headroom: 1.0}}
steps:
  - {{per_minute: {DAY_CAP}, per_hour: {DAY_CAP}, per_day: {DAY_CAP}}}
"""


def test_two_dispatchers_at_once_never_exceed_the_day_cap(
    database_url: str, tmp_path: Path
) -> None:
    with world(database_url, tmp_path, recipients=300, plan_yaml=SMALL_DAY) as w:
        dispatchers = [w.runtime.dispatcher(), w.runtime.dispatcher()]
        barrier = threading.Barrier(2, timeout=30)
        claimed = [0, 0]

        def loop(i: int) -> None:
            for _ in range(15):
                barrier.wait()  # both ticks read the same allowance, then both claim
                batches = dispatchers[i].tick().batches
                claimed[i] += sum(len(b.row_ids) for b in batches)
                for batch in batches:
                    w.runtime.run_batch(batch.to_message())

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = w.emulator.stats()
        with w.database.session() as session:
            accepted = session.scalar(select(func.count()).where(LedgerRow.state == "accepted"))
    assert sum(claimed) == DAY_CAP
    assert stats["accepted"] == DAY_CAP
    assert accepted == DAY_CAP


def test_a_tick_older_than_the_newest_claims_nothing(database_url: str, tmp_path: Path) -> None:
    with world(database_url, tmp_path, recipients=50) as w:
        record = DomainStore(w.database).get("mail.example.com")
        campaign = w.runtime.campaigns.get("c").id
        now = datetime.now(UTC)

        def claim(fence: int) -> list[int]:
            domain = DomainClaim(record.id, now - timedelta(hours=1), 10_000, fence=fence)
            return w.runtime.ledger.claim(
                campaign,
                5,
                owner=f"tick-{fence}",
                deadline=now + timedelta(minutes=5),
                now=now,
                domain=domain,
            )

        assert len(claim(200)) == 5
        with pytest.raises(StaleFence):
            claim(100)  # the lock of tick 100 lapsed; tick 200 took over
        assert len(claim(200)) == 5  # the newest tick goes on
        assert len(claim(300)) == 5
        with pytest.raises(StaleFence):
            claim(200)


def test_a_campaign_with_no_share_this_tick_does_not_stop_the_others(
    database_url: str, tmp_path: Path
) -> None:
    """Shares come as a split of the tick's allowance: a campaign may get none of it, and
    those after it in the list still get theirs."""
    with world(database_url, tmp_path, recipients=20) as w:
        record = DomainStore(w.database).get("mail.example.com")
        campaign = w.runtime.campaigns.get("c").id
        now = datetime.now(UTC)
        owners = itertools.count()
        claimed = w.runtime.ledger.claim_batches(
            DomainClaim(record.id, now.replace(hour=0, minute=0, second=0, microsecond=0), 1000),
            [(campaign + 1000, 0), (campaign, 7)],
            batch_size=5,
            new_owner=lambda: f"owner-{next(owners)}",
            deadline=now + timedelta(minutes=5),
            now=now,
        )
        assert [len(c.row_ids) for c in claimed] == [5, 2]
        assert {c.campaign_id for c in claimed} == {campaign}
        w.runtime.ledger.expire_leases(now + timedelta(minutes=10))  # the rows go back
