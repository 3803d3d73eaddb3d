"""One contract, two wire journals: the in-memory one and the Redis one (real server, Lua).

What recovery rests on: a write the seal does not answer was refused, so "no mark at the
seal" proves a request never left; a journal that is gone says so, and is never taken for an
empty one.
"""

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import REDIS_URL, redis_or_fail
from warmup.journal import InMemoryJournal, Marked, RedisJournal, WireJournal
from warmup.journal.base import ON_WIRE, JournalError


class Throttles:
    """The scope's throttle signal, as the limiter keeps it (a deadline in unix seconds)."""

    def __init__(self) -> None:
        self.until: dict[str, float] = {}
        self.set = self.until.__setitem__


@pytest.fixture
def throttles() -> Throttles:
    return Throttles()


@pytest.fixture(params=["memory", "redis"])
def journal(request: pytest.FixtureRequest, throttles: Throttles) -> Iterator[WireJournal]:
    if request.param == "memory":
        yield InMemoryJournal(lambda scope: throttles.until.get(scope, 0.0))
        return
    client = redis_or_fail()
    prefix = f"test:{uuid.uuid4().hex}:"

    def throttle(scope: str, until: float) -> None:
        client.set(f"{prefix}throttle:{scope}", repr(until))

    throttles.set = throttle
    yield RedisJournal(client, prefix, hold_key=lambda scope: f"{prefix}throttle:{scope}")
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_the_seal_answers_every_mark_and_result_written_before_it(journal: WireJournal) -> None:
    journal.open("b1")
    assert journal.write({"b1": {1: ON_WIRE, 2: ON_WIRE, 3: ON_WIRE}}) == {"b1": Marked.OK}
    assert journal.write({"b1": {2: '["accepted", "m-2", null, 1]', 3: None}}) == {"b1": Marked.OK}
    assert journal.seal("b1") == {1: ON_WIRE, 2: '["accepted", "m-2", null, 1]'}


def test_nothing_is_written_after_the_seal(journal: WireJournal) -> None:
    journal.open("b1")
    journal.write({"b1": {1: ON_WIRE}})
    assert journal.seal("b1") == {1: ON_WIRE}
    assert journal.write({"b1": {2: ON_WIRE}}) == {"b1": Marked.SEALED}
    journal.open("b1")  # a redelivered batch opening it again does not undo the seal
    assert journal.write({"b1": {2: ON_WIRE}}) == {"b1": Marked.SEALED}
    assert journal.seal("b1") == {1: ON_WIRE}


def test_a_journal_never_opened_or_gone_is_lost_not_empty(journal: WireJournal) -> None:
    assert journal.write({"never": {1: ON_WIRE}}) == {"never": Marked.LOST}
    assert journal.seal("never") is None
    # ...and stays refused after that seal: nothing can start proving things again
    assert journal.write({"never": {1: ON_WIRE}}) == {"never": Marked.SEALED}


def test_marks_are_refused_while_the_scope_is_throttled_and_results_still_kept(
    journal: WireJournal, throttles: Throttles
) -> None:
    journal.open("b")
    journal.write({"b": {1: ON_WIRE}}, scope="acs", now=100.0)
    throttles.set("acs", 130.0)  # another worker heard a 429 with Retry-After: 30
    answer = journal.write(
        {"b": {1: '["pending", null, "429", 1]', 2: ON_WIRE}}, scope="acs", now=101.0
    )
    assert answer == {"b": Marked.HELD}
    assert journal.write({"b": {3: ON_WIRE}}, scope="other", now=101.0) == {"b": Marked.OK}
    assert journal.write({"b": {4: ON_WIRE}}, scope="acs", now=130.5) == {"b": Marked.OK}
    assert journal.seal("b") == {1: '["pending", null, "429", 1]', 3: ON_WIRE, 4: ON_WIRE}


def test_one_write_answers_each_owner_apart(journal: WireJournal) -> None:
    journal.open("a")
    journal.open("b")
    journal.seal("b")
    answers = journal.write({"a": {1: ON_WIRE}, "b": {2: ON_WIRE}, "c": {3: ON_WIRE}})
    assert answers == {"a": Marked.OK, "b": Marked.SEALED, "c": Marked.LOST}


def test_close_drops_a_finished_journal_but_keeps_a_sealed_one(journal: WireJournal) -> None:
    journal.open("done")
    journal.write({"done": {1: ON_WIRE, 2: ON_WIRE}})
    journal.close("done", [1])
    assert journal.write({"done": {3: ON_WIRE}}) == {"done": Marked.OK}  # still open
    journal.close("done", [2, 3])
    assert journal.write({"done": {4: ON_WIRE}}) == {"done": Marked.LOST}  # gone
    journal.open("sealed")
    journal.seal("sealed")
    journal.close("sealed", [])
    assert journal.write({"sealed": {1: ON_WIRE}}) == {"sealed": Marked.SEALED}


def test_a_redis_restart_loses_the_journal_and_recovery_knows_it() -> None:
    client = redis_or_fail()
    prefix = f"test:{uuid.uuid4().hex}:"
    journal = RedisJournal(client, prefix)
    journal.open("b")
    journal.write({"b": {1: ON_WIRE}})
    for key in client.scan_iter(f"{prefix}*"):  # what a restart without persistence does
        client.delete(key)
    assert journal.write({"b": {2: ON_WIRE}}) == {"b": Marked.LOST}
    assert journal.seal("b") is None
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.integers(min_value=1, max_value=60), seal_after=st.integers(min_value=0, max_value=60)
)
def test_under_concurrent_marking_the_seal_splits_rows_into_left_and_never_left(
    journal: WireJournal, rows: int, seal_after: int
) -> None:
    # Marks race a seal from another thread. Each mark's answer says whether it may leave;
    # the seal's answer must hold exactly the rows whose mark was answered OK.
    owner = uuid.uuid4().hex
    journal.open(owner)

    def mark(row: int) -> tuple[int, Marked]:
        return row, journal.write({owner: {row: ON_WIRE}})[owner]

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(mark, row) for row in range(rows)]
        sealed_at = min(seal_after, rows - 1)
        futures[sealed_at].result()
        seal = pool.submit(journal.seal, owner)
        answers = dict(f.result() for f in futures)
        notes = seal.result()
    assert notes is not None
    may_leave = {row for row, answer in answers.items() if answer is Marked.OK}
    assert set(notes) == may_leave
    assert all(answer in (Marked.OK, Marked.SEALED) for answer in answers.values())


def test_a_write_of_thousands_of_rows_is_taken_whole(journal: WireJournal) -> None:
    # A batch may hold 5,000 rows; one write can carry all of them (the script sets them in
    # chunks: Lua's unpack() is bounded).
    journal.open("big")
    rows = {row: ON_WIRE for row in range(6_000)}
    assert journal.write({"big": rows}) == {"big": Marked.OK}
    assert journal.write({"big": dict.fromkeys(range(0, 6_000, 2))}) == {"big": Marked.OK}
    assert journal.seal("big") == {row: ON_WIRE for row in range(1, 6_000, 2)}


def test_a_write_cut_short_by_a_dying_process_lands_whole_or_not_at_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One write carries a batch's new marks and another batch's noted results (the slots
    those marks reuse). A process killed while sending it must not leave the marks without
    the results: the journal would hold more rows on the wire than the process has slots."""
    redis_or_fail()
    client = redis.Redis.from_url(REDIS_URL, retry=Retry(NoBackoff(), 0))  # no resend
    prefix = f"test:{uuid.uuid4().hex}:"
    journal = RedisJournal(client, prefix)
    for owner in ("x", "y"):
        journal.open(owner)
    journal.write({"x": {1: ON_WIRE}})
    sent = redis.connection.Connection.send_packed_command

    def killed_midway(
        self: redis.connection.Connection, command: object, check_health: bool = True
    ) -> None:
        payload = b"".join(command) if isinstance(command, list) else bytes(command)  # type: ignore[arg-type]
        if f"{prefix}x".encode() in payload and f"{prefix}y".encode() in payload:
            # The bytes up to the last command leave; then the process is gone.
            cut = payload.rfind(b"\r\n*") + 2
            sent(self, [payload[:cut]], check_health)
            self.disconnect()
            raise redis.ConnectionError("killed")
        sent(self, command, check_health)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", killed_midway)
    with pytest.raises(JournalError):
        # y's marks first, x's result after: the order in which owners are written is free.
        journal.write({"y": {2: ON_WIRE, 3: ON_WIRE}, "x": {1: '["accepted","m1",null,1]'}})
    monkeypatch.undo()
    left = {owner: journal.seal(owner) for owner in ("x", "y")}
    assert left in (
        {"x": {1: ON_WIRE}, "y": {}},  # nothing landed
        {"x": {1: '["accepted","m1",null,1]'}, "y": {2: ON_WIRE, 3: ON_WIRE}},  # all of it
    )
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()
