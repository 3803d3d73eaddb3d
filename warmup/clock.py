"""Where the service reads the time. Decisions never do: they are given it.

``ScaledClock`` runs faster than real time by a fixed factor from a fixed real instant, so that
several processes (a worker, the dispatcher) agree on the same accelerated "now": that is how
``warmup demo`` lives through days of warm-up in minutes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def real_seconds(self, seconds: float) -> float:
        """How long ``seconds`` of this clock's time last in real time."""

    def clock_seconds(self, real: float) -> float:
        """How much of this clock's time passes in ``real`` seconds."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def real_seconds(self, seconds: float) -> float:
        return seconds

    def clock_seconds(self, real: float) -> float:
        return real


class ScaledClock:
    def __init__(self, scale: float, origin: float) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self.origin = origin  # a real unix time: this clock and the real one agree there

    def now(self) -> datetime:
        real = time.time()
        return datetime.fromtimestamp(self.origin + (real - self.origin) * self.scale, UTC)

    def real_seconds(self, seconds: float) -> float:
        return seconds / self.scale

    def clock_seconds(self, real: float) -> float:
        return real * self.scale


def clock_for(scale: float, origin: float | None) -> Clock:
    """The real clock, or one ``scale`` times faster from ``origin`` (default: now)."""
    if scale == 1.0:
        return SystemClock()
    return ScaledClock(scale, origin if origin is not None else time.time())
