"""Splitting a domain's allowance between its running campaigns (pure).

Campaigns share their domain's ramp. Higher priority is served first; campaigns of equal
priority get equal shares, and what one cannot use (it has fewer rows left) goes to the others
(water-filling). The first campaigns in id order take any indivisible remainder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby


@dataclass(frozen=True)
class Demand:
    campaign_id: int
    priority: int
    pending: int


def split(allowance: int, demands: Sequence[Demand]) -> dict[int, int]:
    shares = {d.campaign_id: 0 for d in demands}
    left = max(0, allowance)
    ordered = sorted(demands, key=lambda d: (-d.priority, d.campaign_id))
    for _, group in groupby(ordered, key=lambda d: d.priority):
        wanting = [d for d in group if d.pending > 0]
        while left > 0 and wanting:
            each = left // len(wanting)
            if each == 0:  # only an indivisible remainder is left: one more each, in id order
                for demand in wanting[:left]:
                    shares[demand.campaign_id] += 1
                left -= min(left, len(wanting))
                break
            for demand in wanting:
                give = min(demand.pending - shares[demand.campaign_id], each)
                shares[demand.campaign_id] += give
                left -= give
            wanting = [d for d in wanting if shares[d.campaign_id] < d.pending]
    return shares
