"""The retry policy for ACS calls, built on tenacity.

- throttled (429): wait what ACS asked (``Retry-After``) plus a little jitter, never less, so
  workers do not come back in lockstep and retrying early never burns quota; a wait longer than
  ``retry_after_cap`` is not waited here: the error goes up so the caller can release the work
  and let the limiter hold everyone back;
- transient and ambiguous: exponential backoff with full jitter;
- permanent: no retry;
- the total time slept is capped (``max_total_wait``), counted from the waits themselves, so
  tests with an injected ``sleep`` never touch the clock.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from warmup.errors import SendError, ThrottledError
from warmup.settings import Settings

log = logging.getLogger(__name__)

# Told of every 429 by the sender, retried or not (see warmup.sending.sender).
ThrottleHook = Callable[[ThrottledError], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    max_total_wait: float = 600.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    retry_after_cap: float = 300.0
    throttle_jitter: float = 0.1  # fraction of Retry-After added at random

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.retry_max_attempts,
            max_total_wait=settings.retry_max_total_wait_seconds,
            backoff_initial=settings.retry_backoff_initial_seconds,
            backoff_max=settings.retry_backoff_max_seconds,
            retry_after_cap=settings.retry_after_cap_seconds,
        )


def _error(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None


class wait_for_acs(wait_base):
    """Retry-After (+ jitter) for throttling, exponential full jitter otherwise."""

    def __init__(self, policy: RetryPolicy, uniform: Callable[[], float] = random.random) -> None:
        self._policy = policy
        self._uniform = uniform
        self._backoff = wait_random_exponential(
            multiplier=policy.backoff_initial, max=policy.backoff_max
        )

    def __call__(self, retry_state: RetryCallState) -> float:
        error = _error(retry_state)
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            # Never earlier than asked: an early retry is throttled again and costs quota.
            return error.retry_after * (1 + self._policy.throttle_jitter * self._uniform())
        return self._backoff(retry_state)


class stop_when_wait_too_long(stop_base):
    """Stop when the next wait is over the per-wait cap, or would push the total over budget."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep
        if upcoming > self._policy.retry_after_cap:
            return True
        return retry_state.idle_for + upcoming > self._policy.max_total_wait


def is_retryable(error: BaseException) -> bool:
    """Whether the policy retries after this error (the one test tenacity applies too)."""
    return isinstance(error, SendError) and error.retryable


def _log_retry(what: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = _error(state)
        log.warning(
            "retrying %s in %.2fs after attempt %d: %s (%s)",
            what,
            state.upcoming_sleep,
            state.attempt_number,
            type(error).__name__,
            error,
        )

    return before_sleep


def _common(policy: RetryPolicy, what: str) -> dict[str, object]:
    return {
        "retry": retry_if_exception(is_retryable),
        "wait": wait_for_acs(policy),
        "stop": stop_after_attempt(policy.max_attempts) | stop_when_wait_too_long(policy),
        "before_sleep": _log_retry(what),
        "reraise": True,  # callers see the classified SendError, not tenacity's RetryError
    }


def async_retrying(
    policy: RetryPolicy,
    *,
    what: str,
    sleep: Callable[[float], Awaitable[None]],
) -> AsyncRetrying:
    return AsyncRetrying(sleep=sleep, **_common(policy, what))  # type: ignore[arg-type]
