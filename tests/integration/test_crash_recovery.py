"""A batch whose process stopped answering: only the rows whose requests may have left are in
doubt (issue 29). The strict witness is the emulator with de-duplication off: a second post of
an Operation-Id would be a second email, and every status GET is counted.

"The process hung" is played here by housekeeping's clock running past the lease while the
batch is still at work: its journal is sealed under it, exactly as for a process that died,
and whatever it tries to send after that must not leave."""

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from harness.pipeline_world import DOMAIN, World, exactly_once, ledger_states, world
from warmup.ledger.recoveries import recovery_totals_by_domain
from warmup.pipeline.outcome_poll import StatusBudget
from warmup.pipeline.recovery import NEVER_LEFT, recover_lapsed
from warmup.store.models import LedgerRow
from warmup.views.campaigns import campaign_view
from warmup.views.domains import domain_view
from warmup.wiring import Stores

pytestmark = pytest.mark.integration


def states(w: World) -> dict[str, int]:
    return ledger_states(w.database)


def errors(w: World, state: str) -> list[str | None]:
    with w.database.session() as session:
        return list(session.scalars(select(LedgerRow.last_error).where(LedgerRow.state == state)))


def wait_for_requests(w: World, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(w.emulator.stats(include_recipients=True)["send_request_walls"]) < n:
        assert time.monotonic() < deadline, "the first requests never left"
        time.sleep(0.01)


def test_a_lapsed_batch_doubts_only_the_rows_on_the_wire_and_can_send_nothing_more(
    database_url: str, tmp_path: Path
) -> None:
    with world(
        database_url,
        tmp_path,
        recipients=20,
        latency_ms=1500,
        dedupe_operation_ids=False,
        settings_overrides={"send_concurrency": 4},
    ) as w:
        (batch,) = w.runtime.dispatch()
        sending = threading.Thread(target=lambda: w.runtime.run_batch(batch.to_message()))
        sending.start()
        wait_for_requests(w, 4)
        assert states(w) == {"sending": 8, "claimed": 12}  # 4 on the wire, 4 readied
        later = datetime.now(UTC) + timedelta(hours=1)  # past every lease
        recovery = recover_lapsed(w.runtime.ledger, w.runtime.journal, later)
        assert (recovery.claims, recovery.unsent, recovery.in_doubt) == (12, 4, 4)
        assert states(w) == {"verifying": 4, "pending": 16}
        assert set(errors(w, "pending")) == {"lease expired", NEVER_LEFT}
        # Status shows it: what came back unsent, what is in doubt, and when it is settled.
        budget = StatusBudget(minute_left=3, hour_left=100, per_minute=20, per_hour=150)
        seen = campaign_view(Stores(w.database), "c", later, budget=budget).recovery
        assert (seen.batches, seen.returned_unsent, seen.found_in_doubt) == (1, 4, 4)
        assert seen.in_doubt_now == 4
        assert seen.settled_by == later + timedelta(minutes=1)  # 3 now, the 4th next minute
        record = w.domains.get(DOMAIN)
        assert domain_view(Stores(w.database), record, later).recovery.in_doubt_now == 4
        assert recovery_totals_by_domain(w.database)[DOMAIN].unsent == 4
        sending.join(timeout=30)
        assert not sending.is_alive()
        # The sealed batch sent nothing more: its readied rows were held back at the wire.
        assert len(w.emulator.stats(include_recipients=True)["send_request_walls"]) == 4
        w.run_until_done()
        stats = w.emulator.stats()
    exactly_once(stats, 20)
    assert stats["reused_operation_ids"] == 0
    assert stats["status_requests"] == 4  # one GET per row that was on the wire, no more


def test_answers_noted_before_the_crash_are_recorded_without_asking_acs(
    database_url: str, tmp_path: Path
) -> None:
    # Results are written to the ledger at most every second; the journal keeps each answer
    # from the moment it comes, so a crash between the two costs no status GET.
    with world(
        database_url,
        tmp_path,
        recipients=30,
        latency_ms=20,
        dedupe_operation_ids=False,
        settings_overrides={"send_concurrency": 4, "batch_size": 30},
    ) as w:
        (batch,) = w.runtime.dispatch()
        runner_ledger = w.runtime.ledger
        recorded: list[int] = []
        original = runner_ledger.record

        def record_nothing(outcomes, owner, at):  # type: ignore[no-untyped-def]
            recorded.append(len(outcomes))
            return 0  # the process "dies" before any result reaches the ledger

        runner_ledger.record = record_nothing  # type: ignore[method-assign]
        journal_close = w.runtime.journal.close
        w.runtime.journal.close = lambda owner, rows: None  # type: ignore[method-assign]
        try:
            w.runtime.run_batch(batch.to_message())
        finally:
            runner_ledger.record = original  # type: ignore[method-assign]
            w.runtime.journal.close = journal_close  # type: ignore[method-assign]
        assert sum(recorded) == 30
        assert states(w) == {"sending": 30}
        recovery = recover_lapsed(
            runner_ledger, w.runtime.journal, datetime.now(UTC) + timedelta(hours=1)
        )
        assert (recovery.answered, recovery.in_doubt, recovery.unsent) == (30, 0, 0)
        assert states(w) == {"accepted": 30}
        stats = w.emulator.stats()
    exactly_once(stats, 30)
    assert stats["status_requests"] == 0


def test_with_its_journal_lost_every_row_left_sending_is_asked_about(
    database_url: str, tmp_path: Path
) -> None:
    # Redis restarted without persistence while the batch was out: nothing can be proved, so
    # the rows fall back to being asked about, and still nobody gets two emails.
    with world(
        database_url,
        tmp_path,
        recipients=20,
        latency_ms=1500,
        dedupe_operation_ids=False,
        settings_overrides={"send_concurrency": 4},
    ) as w:
        (batch,) = w.runtime.dispatch()
        sending = threading.Thread(target=lambda: w.runtime.run_batch(batch.to_message()))
        sending.start()
        wait_for_requests(w, 4)
        w.lose_journal()
        recovery = recover_lapsed(
            w.runtime.ledger, w.runtime.journal, datetime.now(UTC) + timedelta(hours=1)
        )
        assert recovery.journals_lost == 1
        assert recovery.in_doubt == 8  # the 4 on the wire and the 4 readied alike
        sending.join(timeout=30)
        w.run_until_done()
        stats = w.emulator.stats()
    exactly_once(stats, 20)
    assert stats["reused_operation_ids"] == 0
    assert stats["status_requests"] == 8
