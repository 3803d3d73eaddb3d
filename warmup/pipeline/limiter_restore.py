"""The limiter's windows, rebuilt from the ledger after Redis lost them.

A Redis without persistence forgets every window when it restarts: the trailing minute and hour
would read as empty, and a domain could spend its hourly cap a second time. The ledger knows
what was posted and when, so the windows are rebuilt from it — the same limits a send takes its
permits from (:func:`~warmup.pipeline.send_limits.send_limits`), counted in the same buckets —
once, by whichever dispatcher tick first finds them gone. Sends that took a permit between the
restart and the rebuild are counted twice, which errs on the safe side.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from warmup.domains.record import DomainRecord
from warmup.ledger.store import LedgerStore
from warmup.pipeline.send_limits import send_limits
from warmup.ratelimit.base import Limit, Limiter

log = logging.getLogger("warmup.limiter")


def lost_windows(
    records: Iterable[DomainRecord], ledger: LedgerStore, scope: str, margin: float, now: datetime
) -> dict[Limit, Counter[int]]:
    """What each limit's window held at ``now``, from the rows the ledger says were posted."""
    windows: dict[Limit, Counter[int]] = {}
    stamp_now = now.timestamp()
    for record in records:
        # Per provider group: its limits, each with the oldest bucket its window still counts.
        limits_by_provider: dict[str, list[tuple[Limit, int]]] = {}
        longest = max(
            limit.span * limit.bucket_size for limit in send_limits(record, "other", scope, margin)
        )
        for provider, at in ledger.posted_since(record.id, now - timedelta(seconds=longest)):
            limits = limits_by_provider.get(provider)
            if limits is None:
                limits = limits_by_provider[provider] = [
                    (limit, limit.bucket(stamp_now) - limit.span + 1)
                    for limit in send_limits(record, provider, scope, margin)
                ]
            stamp = at.timestamp()
            for limit, oldest in limits:
                index = limit.bucket(stamp)
                if index >= oldest:
                    windows.setdefault(limit, Counter())[index] += 1
    return windows


def restore_if_lost(
    limiter: Limiter,
    records: Callable[[], Iterable[DomainRecord]],
    ledger: LedgerStore,
    scope: str,
    margin: float,
    now: datetime,
) -> bool:
    """Rebuild the windows if the limiter lost them; ``True`` if this call did. ``records``
    is called only then: on every other tick this costs one marker look-up."""
    if limiter.restored():
        return False
    windows = lost_windows(records(), ledger, scope, margin, now)
    done = limiter.restore(windows)
    if done:
        sends = sum(sum(c.values()) for limit, c in windows.items() if limit.key.endswith(":h"))
        # Nothing sent within the windows (a first start, or a quiet hour): nothing was lost.
        (log.warning if sends else log.info)(
            "the limiter's windows were lost (Redis restarted without persistence?): rebuilt "
            "%d limits from the ledger (%d permit counts in hourly windows)",
            len(windows),
            sends,
        )
    return done
