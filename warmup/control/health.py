"""Rolling outcome counts and the verdict the health gates give on them.

Pure: times are passed in. ``HealthWindow`` is the in-process form (used by simulations and
tests); the service keeps the same buckets in its store so that every worker sees one window.
The gates decide on confidence intervals of the rates (:mod:`warmup.control.evidence`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from warmup.control.evidence import interval, pct
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
        # Spelled out: a simulation adds counts millions of times.
        return OutcomeCounts(
            self.delivered + other.delivered,
            self.hard_bounce + other.hard_bounce,
            self.soft_failure + other.soft_failure,
            self.complaint + other.complaint,
            self.suppressed + other.suppressed,
        )

    @property
    def total(self) -> int:
        return (
            self.delivered + self.hard_bounce + self.soft_failure + self.complaint + self.suppressed
        )

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
        # Field by field: a simulation asks this millions of times.
        delivered = hard = soft = complaint = suppressed = 0
        for key, counts in self._buckets.items():
            if oldest <= key <= newest:
                delivered += counts.delivered
                hard += counts.hard_bounce
                soft += counts.soft_failure
                complaint += counts.complaint
                suppressed += counts.suppressed
        return OutcomeCounts(delivered, hard, soft, complaint, suppressed)


class Level(IntEnum):
    """Ordered: a verdict is the worst level any gate reaches."""

    UNKNOWN = 0  # fewer reports than the minimum sample: no decision
    OK = 1
    WARN = 2  # the measured rate is within reach of the hold line: tell someone, change nothing
    HOLD = 3
    PAUSE = 4


WARN_SHARE_OF_HOLD = 0.75
# How many groups a reason names as the drivers of a domain's rate.
DRIVERS_SHOWN = 3


@dataclass(frozen=True)
class Verdict:
    level: Level
    reason: str
    counts: OutcomeCounts
    # Every rate judged is below its release line beyond reasonable doubt (the upper bound of
    # its interval): a hold may be lifted on these reports. A rate between the lines neither
    # holds nor releases (hysteresis).
    clear: bool = False


def _pct(rate: float) -> str:
    return pct(rate)


def judge(
    counts: OutcomeCounts,
    gates: Gates,
    parts: Mapping[str, OutcomeCounts] | None = None,
) -> Verdict:
    """The worst level any gate reaches, on the confidence interval of its rate.

    A gate holds when the lower bound of its rate is at or above the hold line, pauses when it
    is at or above the pause line; the verdict is clear (a hold may end) when the upper bound
    of every rate is below its release line. The reason carries the rate, its interval and the
    count of reports, and, given the ``parts`` the counts add up from (a domain's provider
    groups), which of them drove it.
    """
    n = counts.total
    if n < gates.min_sample:
        return Verdict(
            Level.UNKNOWN,
            f"{n:,} reports, fewer than the {gates.min_sample:,} needed to judge",
            counts,
        )
    checks: list[tuple[str, Callable[[OutcomeCounts], int], Threshold]] = [
        ("failure rate", _failures, gates.failure_rate),
        ("hard-bounce rate", _hard_bounces, gates.hard_bounce_rate),
        ("complaint rate", _complaints, gates.complaint_rate),
    ]
    # The numbers first; only the reason the verdict gives is put in words.
    level, worst, line = Level.OK, None, ""
    unclear = None
    for check in checks:
        name, count_of, threshold = check
        if threshold.min_sample is not None and n < threshold.min_sample:
            continue
        measured = interval(count_of(counts), n, gates.confidence)
        if unclear is None and measured.high >= threshold.release_line:
            unclear = (name, measured, threshold)
        if measured.low >= threshold.pause:
            found, says = Level.PAUSE, f"≥ pause {_pct(threshold.pause)}"
        elif measured.low >= threshold.hold:
            found, says = Level.HOLD, f"≥ hold {_pct(threshold.hold)}"
        elif measured.rate >= threshold.hold * WARN_SHARE_OF_HOLD:
            found, says = Level.WARN, f"near hold {_pct(threshold.hold)}"
        else:
            continue
        if found > level:
            level, worst, line = found, (check, measured), says
    if worst is not None:
        (name, count_of, _), measured = worst
        reason = f"{name} {measured.describe()} over {n:,} reports {line}"
        return Verdict(level, reason + _drivers(parts, count_of), counts, clear=unclear is None)
    if unclear is not None:
        name, measured, threshold = unclear
        reason = (
            f"{name} {measured.describe()} over {n:,} reports is not surely below "
            f"release {_pct(threshold.release_line)}"
        )
        return Verdict(Level.OK, reason, counts)
    failures = interval(counts.failures, n, gates.confidence).describe()
    return Verdict(
        Level.OK, f"failure rate {failures} over {n:,} reports is healthy", counts, clear=True
    )


def _failures(counts: OutcomeCounts) -> int:
    return counts.failures


def _hard_bounces(counts: OutcomeCounts) -> int:
    return counts.hard_bounce


def _complaints(counts: OutcomeCounts) -> int:
    return counts.complaint


def _drivers(
    parts: Mapping[str, OutcomeCounts] | None, count_of: Callable[[OutcomeCounts], int]
) -> str:
    """`` (gmail 2.9 % of 812, other 0.6 % of 655)``: the parts with the most of the failures."""
    if not parts or len(parts) < 2:
        return ""
    ranked = sorted(
        ((name, c) for name, c in parts.items() if c.total),
        key=lambda item: (-count_of(item[1]), item[0]),
    )
    shown = [
        f"{name} {_pct(count_of(c) / c.total)} of {c.total:,}" for name, c in ranked[:DRIVERS_SHOWN]
    ]
    return f" ({', '.join(shown)})" if shown else ""
