"""Rolling outcome counts and the verdict the health gates give on them.

Pure: times are passed in. ``HealthWindow`` is the in-process form (used by simulations and
tests); the service keeps the same buckets in its store so that every worker sees one window.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from warmup.plans.model import Gates, Threshold


class Outcome(StrEnum):
    DELIVERED = "delivered"
    HARD_BOUNCE = "hard_bounce"
    SOFT_FAILURE = "soft_failure"
    COMPLAINT = "complaint"  # FilteredSpam, Quarantined, feedback-loop complaints
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class OutcomeCounts:
    delivered: int = 0
    hard_bounce: int = 0
    soft_failure: int = 0
    complaint: int = 0
    suppressed: int = 0

    @classmethod
    def of(cls, outcome: Outcome, n: int = 1) -> OutcomeCounts:
        return cls(**{outcome.value: n})

    def __add__(self, other: OutcomeCounts) -> OutcomeCounts:
        return OutcomeCounts(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    @property
    def failures(self) -> int:
        """ACS counts anything but Delivered as a failure."""
        return self.total - self.delivered

    def rate(self, count: int) -> float:
        return count / self.total if self.total else 0.0

    @property
    def failure_rate(self) -> float:
        return self.rate(self.failures)

    @property
    def hard_bounce_rate(self) -> float:
        return self.rate(self.hard_bounce)

    @property
    def complaint_rate(self) -> float:
        return self.rate(self.complaint)


class HealthWindow:
    """Outcome counts in time buckets; :meth:`counts` sums those inside the window."""

    def __init__(self, window: timedelta, bucket: timedelta = timedelta(minutes=5)) -> None:
        if bucket <= timedelta(0) or window < bucket:
            raise ValueError("need 0 < bucket <= window")
        self.window = window
        self.bucket = bucket
        self._buckets: dict[int, OutcomeCounts] = {}

    def _index(self, at: datetime) -> int:
        return int(at.timestamp() // self.bucket.total_seconds())

    def add(self, outcome: Outcome, at: datetime, n: int = 1) -> None:
        key = self._index(at)
        self._buckets[key] = self._buckets.get(key, OutcomeCounts()) + OutcomeCounts.of(outcome, n)

    def counts(self, now: datetime, since: datetime | None = None) -> OutcomeCounts:
        """Outcomes in the window ending at ``now``; only buckets wholly after ``since``."""
        newest = self._index(now)
        oldest = newest - int(self.window / self.bucket) + 1
        for key in [k for k in self._buckets if k < oldest]:
            del self._buckets[key]  # forget what can never be in a window again
        if since is not None:
            oldest = max(oldest, self._index(since) + 1)
        total = OutcomeCounts()
        for key, counts in self._buckets.items():
            if oldest <= key <= newest:
                total = total + counts
        return total


class Level(IntEnum):
    """Ordered: a verdict is the worst level any gate reaches."""

    UNKNOWN = 0  # fewer reports than the minimum sample: no decision
    OK = 1
    WARN = 2  # within reach of the hold line: tell someone, change nothing
    HOLD = 3
    PAUSE = 4


WARN_SHARE_OF_HOLD = 0.75


@dataclass(frozen=True)
class Verdict:
    level: Level
    reason: str
    counts: OutcomeCounts
    # Every rate judged is below its release line: a hold may be lifted. A rate between the
    # release and hold lines neither holds nor releases (hysteresis).
    clear: bool = False


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".") + " %"


def judge(counts: OutcomeCounts, gates: Gates) -> Verdict:
    """The worst level reached by any gate, with a reason that carries the numbers."""
    n = counts.total
    if n < gates.min_sample:
        return Verdict(
            Level.UNKNOWN,
            f"{n:,} reports, fewer than the {gates.min_sample:,} needed to judge",
            counts,
        )
    checks: list[tuple[str, float, Threshold]] = [
        ("failure rate", counts.failure_rate, gates.failure_rate),
        ("hard-bounce rate", counts.hard_bounce_rate, gates.hard_bounce_rate),
        ("complaint rate", counts.complaint_rate, gates.complaint_rate),
    ]
    worst = Verdict(
        Level.OK, f"failure rate {_pct(counts.failure_rate)} over {n:,} reports is healthy", counts
    )
    above_release: list[str] = []
    for name, rate, threshold in checks:
        if threshold.min_sample is not None and n < threshold.min_sample:
            continue
        if rate >= threshold.release_line:
            above_release.append(
                f"{name} {_pct(rate)} is not below release {_pct(threshold.release_line)}"
            )
        if rate >= threshold.pause:
            level, line = Level.PAUSE, f"≥ pause {_pct(threshold.pause)}"
        elif rate >= threshold.hold:
            level, line = Level.HOLD, f"≥ hold {_pct(threshold.hold)}"
        elif rate >= threshold.hold * WARN_SHARE_OF_HOLD:
            level, line = Level.WARN, f"near hold {_pct(threshold.hold)}"
        else:
            continue
        if level > worst.level:
            worst = Verdict(level, f"{name} {_pct(rate)} over {n:,} reports {line}", counts)
    if not above_release:
        return replace(worst, clear=True)
    if worst.level is Level.OK:
        return replace(worst, reason=f"{above_release[0]} over {n:,} reports")
    return worst
