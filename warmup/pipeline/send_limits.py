"""The limiter windows one send takes a permit from: its domain's caps as limiter keys.

Every send counts against its domain's per-minute (if the step has one) and per-hour caps, its
provider group's share of the hour when the plan sets one (its probe's while its gates hold it),
and the ACS quota per minute and per
hour (times the plan's headroom, shared by every domain of the subscription). The figures come
from :mod:`warmup.control.caps` (through :attr:`DomainRecord.caps`), as the dispatcher's
allowance does. Day caps are the dispatcher's: it never claims more than a day allows.
"""

from __future__ import annotations

from warmup.control.allowance import probe_per_hour
from warmup.domains.record import DomainRecord
from warmup.ratelimit.base import Limit

MINUTE_BUCKETS = 120  # half-second buckets: at most ~1 % of a minute's capacity unused
HOUR_BUCKETS = 120  # 30-second buckets


def _minute(key: str, limit: int, margin: float) -> Limit:
    return Limit(key, max(1, limit), 60.0, MINUTE_BUCKETS, margin)


def _hour(key: str, limit: int, margin: float) -> Limit:
    return Limit(key, max(1, limit), 3600.0, HOUR_BUCKETS, margin)


def domain_minute(record: DomainRecord, margin: float) -> Limit | None:
    per_minute = record.caps.step_per_minute
    if per_minute is None:
        return None
    return _minute(f"dom:{record.state.domain}:m", per_minute, margin)


def domain_hour(record: DomainRecord, margin: float) -> Limit:
    per_hour = record.caps.step_per_hour
    return _hour(f"dom:{record.state.domain}:h", per_hour, margin)


def provider_hour(record: DomainRecord, provider: str, margin: float) -> Limit | None:
    """The group's share of the hour; while its gates hold it, its probe's (batches give back
    the rows of a group with no probe, or paused: see ``stopped_groups``)."""
    shares = record.caps.provider_per_hour
    share = next((n for group, n in shares.items() if group.value == provider), None)
    hold = next((h for h in record.state.provider_holds if h.group.value == provider), None)
    if hold is not None:
        share = probe_per_hour(record.plan, record.caps, hold.group)
    if share is None:
        return None
    return _hour(f"dom:{record.state.domain}:p:{provider}:h", share, margin)


def stopped_groups(record: DomainRecord) -> dict[str, str]:
    """Provider groups (by value, as rows name them) that send nothing now → why: paused by
    their gates or by ops, or held with no probe."""
    return {
        hold.group.value: hold.describe()
        for hold in record.state.provider_holds
        if hold.paused or probe_per_hour(record.plan, record.caps, hold.group) == 0
    }


def acs_limits(record: DomainRecord, scope: str, margin: float) -> list[Limit]:
    cap = record.caps
    return [
        _minute(f"acs:{scope}:m", cap.acs_per_minute, margin),
        _hour(f"acs:{scope}:h", cap.acs_per_hour, margin),
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
