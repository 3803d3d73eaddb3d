"""One contract, two limiters: the in-memory one and the Redis one (real server, Lua script).

The central property is checked by brute force: for random sequences of acquisitions and clock
moves, no window of ``window + margin`` seconds ever holds more than ``limit`` grants.
"""

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import redis_or_fail
from warmup.ratelimit.base import Limit, Limiter
from warmup.ratelimit.memory import InMemoryLimiter
from warmup.ratelimit.redis_limiter import RedisLimiter


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[Limiter]:
    if request.param == "memory":
        yield InMemoryLimiter()
        return
    client = redis_or_fail()
    prefix = f"test:{uuid.uuid4().hex}:"
    yield RedisLimiter(client, prefix)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_grants_up_to_the_limit_then_says_when(limiter: Limiter) -> None:
    minute = Limit("m", limit=10, window=60, buckets=60)
    assert limiter.acquire([minute], 4, now=1000.0, scope="s").granted == 4
    grant = limiter.acquire([minute], 10, now=1001.0, scope="s")
    assert grant.granted == 6
    assert grant.retry_after == pytest.approx(1000 + 61 - 1001, abs=1.0)
    refused = limiter.acquire([minute], 1, now=1030.0, scope="s")
    assert (refused.granted, refused.throttled) == (0, False)
    assert limiter.used(minute, 1030.0) == 10
    assert limiter.acquire([minute], 5, now=1061.5, scope="s").granted == 4  # the first 4 left


def test_the_tightest_limit_binds_all_at_once(limiter: Limiter) -> None:
    minute = Limit("dom:m", limit=5, window=60)
    hour = Limit("acs:h", limit=7, window=3600)
    assert limiter.acquire([minute, hour], 9, now=0.0, scope="s").granted == 5
    assert limiter.acquire([minute, hour], 9, now=61.0, scope="s").granted == 2
    assert limiter.used(hour, 62.0) == 7
    assert limiter.used(minute, 62.0) == 2


def test_a_throttle_holds_back_every_caller_of_the_scope(limiter: Limiter) -> None:
    minute = Limit("m", limit=100, window=60)
    limiter.throttle("acs", 5.0, now=10.0)
    held = limiter.acquire([minute], 3, now=12.0, scope="acs")
    assert (held.granted, held.throttled) == (0, True)
    assert held.retry_after == pytest.approx(3.0, abs=0.01)
    assert limiter.acquire([minute], 3, now=12.0, scope="other").granted == 3
    assert limiter.acquire([minute], 3, now=15.0, scope="acs").granted == 3
    limiter.throttle("acs", 1.0, now=15.0)
    limiter.throttle("acs", 0.5, now=15.0)  # a shorter signal does not cut a longer one
    assert limiter.acquire([minute], 1, now=15.9, scope="acs").granted == 0
    # Every signal counts, the ones that did not lengthen the wait too: metrics show 429s.
    assert limiter.throttle_counts() == {"acs": 3}
    # The deadline in force, for "waiting for ACS quota until …" in domain status.
    assert limiter.throttled_until() == {"acs": pytest.approx(16.0)}


steps = st.lists(
    st.tuples(st.floats(min_value=0.0, max_value=20.0), st.integers(min_value=1, max_value=7)),
    min_size=1,
    max_size=60,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=steps,
    limit=st.integers(min_value=1, max_value=12),
    window=st.sampled_from([10.0, 60.0]),
    buckets=st.sampled_from([1, 4, 60, 120]),
    margin=st.sampled_from([0.0, 1.0, 2.5]),
)
def test_no_window_ever_holds_more_than_the_limit(
    limiter: Limiter,
    steps: list[tuple[float, int]],
    limit: int,
    window: float,
    buckets: int,
    margin: float,
) -> None:
    key = f"prop:{uuid.uuid4().hex}"
    spec = Limit(key, limit=limit, window=window, buckets=buckets, margin=margin)
    now = 5000.0
    granted: list[tuple[float, int]] = []
    for wait, wanted in steps:
        now += wait
        grant = limiter.acquire([spec], wanted, now=now, scope=key)
        assert 0 <= grant.granted <= wanted
        if grant.granted:
            granted.append((now, grant.granted))
    for t, _ in granted:
        in_window = sum(n for s, n in granted if t - window - margin < s <= t)
        assert in_window <= limit, (t, in_window, granted)


def test_waiting_the_retry_after_is_enough(limiter: Limiter) -> None:
    spec = Limit("w", limit=3, window=10, buckets=10)
    now = 100.0
    total = 0
    for _ in range(30):
        grant = limiter.acquire([spec], 2, now=now, scope="w")
        total += grant.granted
        if grant.granted < 2:
            assert grant.retry_after > 0
            now += grant.retry_after
            assert limiter.acquire([spec], 1, now=now, scope="w").granted == 1
            total += 1
    # ~3 per 11 s: the cap is honoured and the capacity is used
    assert total >= 30


@pytest.fixture
def redis_client() -> Iterator[tuple[redis.Redis, str]]:
    client = redis_or_fail()
    prefix = f"test:{uuid.uuid4().hex}:"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def _grants_with_skewed_callers(limiter: RedisLimiter) -> int:
    """Two workers whose host clocks are 5 s ahead and 5 s behind each ask for the whole cap."""
    minute = Limit("skew:m", limit=10, window=60, buckets=120, margin=1.0)
    real = time.time()
    ahead = limiter.acquire([minute], 10, now=real + 5, scope="s").granted
    behind = limiter.acquire([minute], 10, now=real - 5, scope="s").granted
    return ahead + behind


def test_on_redis_time_skewed_worker_clocks_share_one_window(
    redis_client: tuple[redis.Redis, str],
) -> None:
    client, prefix = redis_client
    assert _grants_with_skewed_callers(RedisLimiter(client, prefix, server_time=True)) == 10


def test_trusting_each_callers_clock_would_let_skew_exceed_the_cap(
    redis_client: tuple[redis.Redis, str],
) -> None:
    # The witness that the test above can fail: with caller clocks, ±5 s of skew doubles it.
    client, prefix = redis_client
    assert _grants_with_skewed_callers(RedisLimiter(client, prefix + "c:")) == 20


def test_concurrent_throttles_keep_the_latest_deadline(
    redis_client: tuple[redis.Redis, str],
) -> None:
    client, prefix = redis_client
    limiters = [RedisLimiter(client, prefix, server_time=True) for _ in range(8)]
    waits = [60.0, 1.0, 5.0, 0.5, 30.0, 2.0, 0.1, 10.0]
    with ThreadPoolExecutor(len(limiters)) as pool:
        list(
            pool.map(
                lambda pair: pair[0].throttle("acs", pair[1], 0.0),
                zip(limiters, waits, strict=True),
            )
        )
    minute = Limit("m", limit=100, window=60)
    held = limiters[0].acquire([minute], 1, now=0.0, scope="acs")
    assert held.throttled
    assert held.retry_after == pytest.approx(60.0, abs=1.0)
    assert limiters[0].throttle_counts() == {"acs": 8}


def test_restored_windows_count_against_the_limit(limiter: Limiter) -> None:
    hour = Limit("dom:h", limit=10, window=3600, buckets=120)
    now = 10_000.0
    # Seven sends in the last hour, as the ledger remembers them, and one long gone.
    counts = {hour: {hour.bucket(now - 600): 4, hour.bucket(now - 30): 3}}
    assert limiter.restore(counts)
    assert limiter.used(hour, now) == 7
    assert limiter.acquire([hour], 5, now=now, scope="s").granted == 3


def test_a_redis_that_lost_its_windows_is_restored_once(
    redis_client: tuple[redis.Redis, str],
) -> None:
    client, prefix = redis_client
    first, second = RedisLimiter(client, prefix), RedisLimiter(client, prefix)
    hour = Limit("dom:h", limit=10, window=3600, buckets=120)
    assert not first.restored()  # a fresh (or restarted) Redis: nothing counted is its own
    counts = {hour: {hour.bucket(5_000.0): 6}}
    assert first.restore(counts)
    assert not second.restore(counts)  # another dispatcher got there first: not added twice
    assert second.restored()
    assert second.used(hour, 5_000.0) == 6
    client.delete(f"{prefix}restored", f"{prefix}dom:h")  # what a restart without persistence does
    assert not first.restored()
