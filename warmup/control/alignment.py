"""What DMARC aggregate reports say of a domain's mail, day by day (pure).

Receivers that honour a domain's ``rua`` send, once a day each, the count of mail they saw with
the domain in its From header, per source IP, with whether SPF and DKIM passed *aligned* with
that domain. warmup sorts each source into ACS's (signed with ACS's DKIM selectors for the
domain) and the rest. Three questions are answered here:

- the aligned share of ACS's mail: below 100 % means some of it fails DMARC at receivers;
- when the policy could move from ``none`` to ``quarantine``, then to ``reject``: after
  ``ready_days`` consecutive reported days with at least ``ready_share`` of all the domain's
  mail aligned (mail that does not align would be quarantined or refused);
- whether unaligned mail from sources that are not ACS's rose sharply: someone else sending as
  the domain during its warm-up, which receivers hold against the domain. A warning, never a
  hold: the ramp's own mail is not at fault.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

READY_DAYS = 14
READY_SHARE = 0.99
# A day's unaligned mail from other sources is a surge when it is at least SURGE_FACTOR times
# the median of the SURGE_BASELINE_DAYS before it, and at least SURGE_MINIMUM messages.
SURGE_FACTOR = 3.0
SURGE_BASELINE_DAYS = 7
SURGE_MINIMUM = 50
NEXT_POLICY = {"none": "quarantine", "quarantine": "reject"}


@dataclass(frozen=True)
class AlignmentDay:
    """One day of a domain's aggregate reports, every receiver summed."""

    day: date
    acs_messages: int = 0
    acs_aligned: int = 0
    other_messages: int = 0  # from sources that are not ACS's
    other_aligned: int = 0

    @property
    def messages(self) -> int:
        return self.acs_messages + self.other_messages

    @property
    def aligned(self) -> int:
        return self.acs_aligned + self.other_aligned

    @property
    def other_unaligned(self) -> int:
        return self.other_messages - self.other_aligned


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def acs_aligned_share(days: Sequence[AlignmentDay]) -> float | None:
    """The aligned share of ACS's mail over these days (None: none reported)."""
    return share(sum(d.acs_aligned for d in days), sum(d.acs_messages for d in days))


@dataclass(frozen=True)
class PolicyStep:
    """The next DMARC policy and when the reports allow it."""

    current: str
    next: str
    ready_on: date | None  # the day after the run of aligned days completed; None: not yet
    days_in_run: int  # consecutive aligned days up to the last reported day
    needed_days: int
    share: float

    def words(self) -> str:
        if self.ready_on is not None:
            return (
                f"p={self.next} possible since {self.ready_on:%Y-%m-%d}: {self.needed_days} "
                f"days in a row with ≥ {self.share:.0%} of the mail aligned"
            )
        return (
            f"p={self.next} not yet: {self.days_in_run} of {self.needed_days} days in a row "
            f"with ≥ {self.share:.0%} of the mail aligned"
        )


def policy_step(
    days: Sequence[AlignmentDay],
    policy: str | None,
    *,
    needed_days: int = READY_DAYS,
    ready_share: float = READY_SHARE,
) -> PolicyStep | None:
    """When the domain's DMARC policy could be tightened one step (None: ``reject`` already,
    or no policy known). A day without reports breaks the run: nothing shows it aligned."""
    current = (policy or "").lower()
    if current not in NEXT_POLICY:
        return None
    run, ready_on, previous = 0, None, None
    for day in sorted(days, key=lambda d: d.day):
        aligned = day.messages > 0 and day.aligned / day.messages >= ready_share
        follows = previous is not None and day.day == previous + timedelta(days=1)
        run = 0 if not aligned else run + 1 if follows else 1
        previous = day.day
        if run < needed_days:
            ready_on = None  # the run is broken, or not long enough yet
        elif ready_on is None:
            ready_on = day.day + timedelta(days=1)
    return PolicyStep(current, NEXT_POLICY[current], ready_on, run, needed_days, ready_share)


def unknown_surge(days: Sequence[AlignmentDay]) -> str | None:
    """A warning when the last reported day's unaligned mail from other sources rose sharply
    over the days before it (None: no surge, or too few days to tell)."""
    ordered = sorted(days, key=lambda d: d.day)
    if len(ordered) < 2:
        return None
    last = ordered[-1]
    before = [d.other_unaligned for d in ordered[-1 - SURGE_BASELINE_DAYS : -1]]
    baseline = statistics.median(before)
    if last.other_unaligned < max(SURGE_MINIMUM, SURGE_FACTOR * baseline):
        return None
    return (
        f"unaligned mail from sources that are not ACS's rose to {last.other_unaligned:,} on "
        f"{last.day:%Y-%m-%d} (median {baseline:,.0f} a day over the {len(before)} days before): "
        "someone else may be sending as the domain"
    )
