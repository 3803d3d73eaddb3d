"""How sure a rate is: a confidence interval for a count of failures out of a count of reports.

The gates decide on these bounds, not on the raw rate (docs/decisions.md): a hold or a pause
needs the interval's lower bound at or above the line (the rate is above it, beyond reasonable
doubt), a release needs the upper bound below the release line (the rate is below it, likewise).
Six failures in 270 reports read as 2.2 %, but the rate behind them may be anywhere from about
0.9 % to 5 %: that is not evidence of a rate above 2 %.

The interval is Wilson's score interval with a continuity correction (Newcombe, 1998). Closed
form, so cheap enough for every gate on every reading and every run of a Monte Carlo. The plain
Wilson interval's lower bound is too high for small counts (1.02 % for 6 of 270, which would
hold at 1 %); with the correction it is 0.91 %, near the exact Clopper-Pearson 0.82 %, and its
upper bound errs the safe way too (later releases, never earlier). docs/decisions.md has the
comparison. Pure: no clock, no store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist


@dataclass(frozen=True)
class Interval:
    """A rate measured as ``count`` of ``n``, and the range that holds the true rate with the
    given confidence (two-sided)."""

    count: int
    n: int
    low: float
    high: float
    confidence: float

    @property
    def rate(self) -> float:
        return self.count / self.n if self.n else 0.0

    def describe(self) -> str:
        """``2.2 % (95 %: 0.9–5 %)``: the rate, then its interval."""
        span = f"{pct(self.low, bare=True)}–{pct(self.high)}"
        return f"{pct(self.rate)} ({self.confidence * 100:g} %: {span})"


@cache
def _z(confidence: float) -> float:
    """The normal quantile of a two-sided ``confidence`` (1.96 for 95 %)."""
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


def interval(count: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson's interval with continuity correction for ``count`` failures in ``n`` reports.

    No reports: the whole range [0, 1], which never decides anything.
    """
    if not 0 <= count <= n:
        raise ValueError(f"need 0 <= count <= n, got {count} of {n}")
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    if n == 0:
        return Interval(0, 0, 0.0, 1.0, confidence)
    z = _z(confidence)
    p = count / n
    z2 = z * z
    denominator = 2 * (n + z2)
    if count == 0:
        low = 0.0
    else:
        root = math.sqrt(max(0.0, z2 - 2 - 1 / n + 4 * p * (n * (1 - p) + 1)))
        low = max(0.0, (2 * n * p + z2 - 1 - z * root) / denominator)
    if count == n:
        high = 1.0
    else:
        root = math.sqrt(max(0.0, z2 + 2 - 1 / n + 4 * p * (n * (1 - p) - 1)))
        high = min(1.0, (2 * n * p + z2 + 1 + z * root) / denominator)
    return Interval(count, n, low, high, confidence)


def pct(rate: float, *, bare: bool = False) -> str:
    """``2.22 %``, ``0.8 %``, ``1 %``: a rate as people read it (``bare``: without the sign)."""
    text = f"{rate * 100:.2f}".rstrip("0").rstrip(".")
    return text if bare else f"{text} %"
