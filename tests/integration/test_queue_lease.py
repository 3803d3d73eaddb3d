"""A claim waits in the queue for a short lease; a batch a process started is held by its live
lease (issue 29: a worker killed with batches queued for it costs half a minute, not five).

The witness is the emulator with de-duplication off: a second post of a row would be a second
email. Housekeeping is run by hand, with the clock it is given."""

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from harness.pipeline_world import exactly_once, ledger_states, world
from warmup.pipeline.recovery import recover_lapsed
from warmup.store.models import LedgerRow

pytestmark = pytest.mark.integration


def lease_deadlines(database) -> set[datetime]:  # type: ignore[no-untyped-def]
    with database.session() as session:
        found = session.scalars(select(LedgerRow.lease_deadline).distinct())
        return {d if d.tzinfo else d.replace(tzinfo=UTC) for d in found if d is not None}


def test_rows_of_a_batch_never_started_come_back_after_the_queue_lease_and_go_once(
    database_url: str, tmp_path: Path
) -> None:
    with world(
        database_url,
        tmp_path,
        recipients=20,
        dedupe_operation_ids=False,
        settings_overrides={"queue_lease_seconds": 30, "lease_seconds": 300},
    ) as w:
        claimed_at = datetime.now(UTC)
        (stale,) = w.runtime.dispatch()
        # The ledger holds the rows for the queue's wait; the batch may run for five minutes.
        assert stale.deadline - claimed_at >= timedelta(seconds=299)
        (held_until,) = lease_deadlines(w.database)
        assert held_until == stale.claimed_until
        assert timedelta(seconds=29) <= held_until - claimed_at <= timedelta(seconds=31)
        # The worker that took the task died before starting it: housekeeping after the
        # queue lease gives every row back, none of them in doubt.
        lapsed = recover_lapsed(w.runtime.ledger, w.runtime.journal, held_until + timedelta(1e-3))
        assert (lapsed.claims, lapsed.in_doubt) == (20, 0)
        assert ledger_states(w.database) == {"pending": 20}
        (fresh,) = w.runtime.dispatch()
        # The old task, run late after all, finds no row of its own: nothing leaves for it.
        w.runtime.run_batch(stale.to_message())
        assert w.emulator.stats()["accepted"] == 0
        w.runtime.run_batch(fresh.to_message())
        exactly_once(w.emulator.stats(), 20)
        assert w.emulator.stats()["reused_operation_ids"] == 0


def test_a_started_batch_outlives_its_queue_lease_while_its_process_lives(
    database_url: str, tmp_path: Path
) -> None:
    # 20 rows, two at a time, 400 ms each: about 4 s of sending, past a 1 s queue lease and a
    # 3 s live lease. Housekeeping runs all the while on the real clock.
    with world(
        database_url,
        tmp_path,
        recipients=20,
        latency_ms=400,
        dedupe_operation_ids=False,
        settings_overrides={
            "send_concurrency": 2,
            "queue_lease_seconds": 1,
            "live_lease_seconds": 3,
        },
    ) as w:
        (batch,) = w.runtime.dispatch()
        sending = threading.Thread(target=lambda: w.runtime.run_batch(batch.to_message()))
        started = time.monotonic()
        sending.start()
        taken_back = 0
        while sending.is_alive():
            taken_back += recover_lapsed(
                w.runtime.ledger, w.runtime.journal, datetime.now(UTC)
            ).total
            time.sleep(0.1)
        took = time.monotonic() - started
        stats = w.emulator.stats()
    assert took > 3.5, "the batch should have outlasted both short leases"
    assert taken_back == 0, "housekeeping took rows from a live batch"
    assert ledger_states(w.database) == {"accepted": 20}
    exactly_once(stats, 20)
    assert stats["reused_operation_ids"] == 0


def test_a_tick_claims_no_more_than_one_ticks_worth_ahead_of_the_workers(
    database_url: str, tmp_path: Path
) -> None:
    # Caps too high to bind: what bounds a tick is what still waits claimed. Claiming further
    # ahead would only let claims lapse in the queue and churn.
    with world(
        database_url, tmp_path, recipients=300, settings_overrides={"max_claim_per_tick": 100}
    ) as w:
        first = sum(len(b.row_ids) for b in w.runtime.dispatch())
        second = sum(len(b.row_ids) for b in w.runtime.dispatch())
        assert (first, second) == (100, 0)
        assert ledger_states(w.database)["claimed"] == 100
