import asyncio
import logging

import pytest

from warmup.errors import (
    AmbiguousSendError,
    PermanentSendError,
    SendError,
    ThrottledError,
    TransientSendError,
)
from warmup.sending.retry import RetryPolicy, async_retrying


class Script:
    """A call that fails with the given errors, then returns 'ok'."""

    def __init__(self, *errors: SendError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def run(
    policy: RetryPolicy, call: Script, slept: list[float] | None = None, **kwargs: object
) -> tuple[str, list[float]]:
    waits: list[float] = [] if slept is None else slept

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def attempts() -> str:
        policy_run = async_retrying(policy, what="test", sleep=sleep, **kwargs)  # type: ignore[arg-type]
        async for attempt in policy_run:
            with attempt:
                return call()
        raise AssertionError

    return asyncio.run(attempts()), waits


def test_throttled_waits_at_least_retry_after_plus_bounded_jitter() -> None:
    policy = RetryPolicy(throttle_jitter=0.1)
    result, slept = run(policy, Script(ThrottledError("429", retry_after=20)))
    assert result == "ok"
    assert len(slept) == 1
    assert 20 <= slept[0] <= 22


def test_transient_errors_back_off_exponentially_within_the_cap() -> None:
    policy = RetryPolicy(backoff_initial=1, backoff_max=4, max_attempts=6)
    call = Script(*[TransientSendError("503") for _ in range(5)])
    result, slept = run(policy, call)
    assert result == "ok"
    assert call.calls == 6
    assert all(0 <= s <= 4 for s in slept)
    # full jitter draws from [0, min(cap, initial * 2^(n-1))]
    assert slept[0] <= 1
    assert slept[1] <= 2


def test_ambiguous_errors_are_not_retried_blindly() -> None:
    # The request may have reached ACS: the sender asks ACS before any second post.
    call = Script(AmbiguousSendError("read timeout"))
    with pytest.raises(AmbiguousSendError):
        run(RetryPolicy(), call)
    assert call.calls == 1


def test_permanent_error_is_not_retried() -> None:
    call = Script(PermanentSendError("400", status=400))
    with pytest.raises(PermanentSendError):
        run(RetryPolicy(), call)
    assert call.calls == 1


def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    call = Script(*[TransientSendError(f"503 #{i}") for i in range(10)])
    with pytest.raises(TransientSendError, match="#2"):
        run(RetryPolicy(max_attempts=3), call)
    assert call.calls == 3


def test_total_wait_is_capped() -> None:
    policy = RetryPolicy(max_total_wait=50, max_attempts=100, throttle_jitter=0)
    call = Script(*[ThrottledError("429", retry_after=20) for _ in range(10)])
    slept: list[float] = []
    with pytest.raises(ThrottledError):
        run(policy, call, slept)
    assert slept == [20, 20]  # a third wait would pass 50 s
    assert sum(slept) <= 50


def test_retry_after_beyond_the_cap_is_not_waited_out_here() -> None:
    # An hourly quota can ask for many minutes: better to release the work than to block.
    call = Script(ThrottledError("429", retry_after=3600))
    with pytest.raises(ThrottledError) as caught:
        run(RetryPolicy(retry_after_cap=300), call)
    assert caught.value.retry_after == 3600
    assert call.calls == 1


def test_every_retry_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="warmup.sending.retry")
    run(RetryPolicy(), Script(TransientSendError("HTTP 503: ServiceUnavailable")))
    assert "retrying test" in caplog.text
    assert "TransientSendError" in caplog.text
    assert "503" in caplog.text


@pytest.mark.parametrize(
    "errors",
    [
        [],
        [ThrottledError("429", retry_after=2)],
        [ThrottledError("429", retry_after=2), ThrottledError("429", retry_after=3)],
        [ThrottledError("429", retry_after=2) for _ in range(5)],  # more than max attempts
        [ThrottledError("429", retry_after=3600)],  # beyond the cap: not waited here
        [PermanentSendError("400 bad address")],
        [AmbiguousSendError("no answer")],
    ],
)
def test_a_send_whose_first_attempt_skips_tenacity_retries_exactly_as_the_policy_says(
    errors: list[SendError],
) -> None:
    """send_with_retries makes its first attempt before setting tenacity up: waits, stops,
    the error raised and the attempts that take a fresh permit are the policy's all the same."""
    import asyncio

    from warmup.sending.sender import Accepted, send_with_retries

    policy = RetryPolicy(max_attempts=3, throttle_jitter=0)
    expected_slept: list[float] = []
    expected_call = Script(*errors)
    try:
        expected: object = run(policy, expected_call, expected_slept)[0]
    except SendError as error:
        expected = type(error), str(error)

    call = Script(*errors)
    slept: list[float] = []
    permits: list[int] = []

    async def post(attempt: int) -> Accepted:
        assert attempt == call.calls + 1
        return Accepted(call(), "op", attempt)

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def before_retry() -> None:
        permits.append(call.calls + 1)

    try:
        got: object = asyncio.run(
            send_with_retries(
                policy, what="test", sleep=sleep, post=post, before_retry=before_retry
            )
        ).message_id
    except SendError as error:
        got = type(error), str(error)
    assert got == expected
    assert call.calls == expected_call.calls
    assert slept == expected_slept
    assert permits == list(range(2, call.calls + 1))  # a fresh permit before every retry
