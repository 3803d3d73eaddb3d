"""Which A/B variant wins (pure): clicks, then opens, then delivery, then fewer complaints.

Rates are per delivered message for clicks and opens (a message that bounced could not be
opened), per sent message for delivery and complaints. The first measure on which the best
variant beats the runner-up decides, and the reason says which, with every variant's numbers.
Without engagement tracking (no opens or clicks reported), delivery and complaints decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class VariantResult:
    label: str
    sent: int  # accepted by ACS
    delivered: int
    opens: int  # messages opened at least once
    clicks: int  # messages clicked at least once
    complaints: int

    @property
    def click_rate(self) -> float:
        return self.clicks / self.delivered if self.delivered else 0.0

    @property
    def open_rate(self) -> float:
        return self.opens / self.delivered if self.delivered else 0.0

    @property
    def delivery_rate(self) -> float:
        return self.delivered / self.sent if self.sent else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.sent if self.sent else 0.0

    def measures(self) -> tuple[float, float, float, float]:
        """Higher is better on each, in the order they decide."""
        return (self.click_rate, self.open_rate, self.delivery_rate, -self.complaint_rate)

    def describe(self) -> str:
        return (
            f"{self.label}: clicks {self.click_rate:.1%}, opens {self.open_rate:.1%} of "
            f"{self.delivered:,} delivered; delivered {self.delivery_rate:.1%} of {self.sent:,}; "
            f"complaints {self.complaint_rate:.2%}"
        )


MEASURES = ("clicks", "opens", "delivery", "fewer complaints")


@dataclass(frozen=True)
class Pick:
    winner: str
    reason: str


def pick_winner(results: Sequence[VariantResult]) -> Pick:
    """The best variant; on a tie in every measure, the first (the campaign's own message)."""
    if not results:
        raise ValueError("an A/B test needs at least one variant's results")
    ranked = sorted(results, key=lambda r: r.measures(), reverse=True)  # stable: ties keep order
    best = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    decided_by = "a tie on every measure: the campaign's own message stays"
    if runner_up is not None:
        for name, mine, theirs in zip(MEASURES, best.measures(), runner_up.measures(), strict=True):
            if mine > theirs:
                decided_by = name
                break
    numbers = "; ".join(r.describe() for r in results)
    return Pick(best.label, f"variant {best.label} wins on {decided_by} ({numbers})")
