"""Which limiter limits a send counts against, from its domain's plan, step and quota.

Every send counts against its domain's per-minute (if the step has one) and per-hour caps, the
ACS quota per minute and per hour (times the plan's headroom, shared by every domain of the
subscription), and its provider group's share of the hour when the plan sets one. Day caps are
the dispatcher's: it never claims more than a day allows.
"""

from __future__ import annotations

import math

from warmup.ratelimit.base import Limit
from warmup.store.domains import DomainRecord

MINUTE_BUCKETS = 120  # half-second buckets: at most ~1 % of a minute's capacity unused
HOUR_BUCKETS = 120  # 30-second buckets


def _minute(key: str, limit: int, margin: float) -> Limit:
    return Limit(key, max(1, limit), 60.0, MINUTE_BUCKETS, margin)


def _hour(key: str, limit: int, margin: float) -> Limit:
    return Limit(key, max(1, limit), 3600.0, HOUR_BUCKETS, margin)


def domain_minute(record: DomainRecord, margin: float) -> Limit | None:
    step = record.plan.step(record.state.step)
    if step.per_minute is None:
        return None
    return _minute(f"dom:{record.state.domain}:m", step.per_minute, margin)


def domain_hour(record: DomainRecord, margin: float) -> Limit:
    step = record.plan.step(record.state.step)
    return _hour(f"dom:{record.state.domain}:h", step.per_hour, margin)


def provider_hour(record: DomainRecord, provider: str, margin: float) -> Limit | None:
    shares = record.plan.providers or {}
    share = next((s for group, s in shares.items() if group.value == provider), None)
    if share is None:
        return None
    step = record.plan.step(record.state.step)
    return _hour(
        f"dom:{record.state.domain}:p:{provider}:h", math.floor(share * step.per_hour), margin
    )


def acs_limits(record: DomainRecord, scope: str, margin: float) -> list[Limit]:
    headroom = record.plan.quota.headroom
    return [
        _minute(f"acs:{scope}:m", math.floor(record.quota.per_minute * headroom), margin),
        _hour(f"acs:{scope}:h", math.floor(record.quota.per_hour * headroom), margin),
    ]


def send_limits(record: DomainRecord, provider: str, scope: str, margin: float) -> list[Limit]:
    limits = [
        limit
        for limit in (
            domain_minute(record, margin),
            domain_hour(record, margin),
            provider_hour(record, provider, margin),
        )
        if limit is not None
    ]
    return limits + acs_limits(record, scope, margin)
