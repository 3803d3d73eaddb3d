"""Campaign statuses and the rules between them (pure)."""

from __future__ import annotations

from enum import StrEnum

from warmup.errors import TransitionError


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


_ALLOWED = {
    "start": ({CampaignStatus.DRAFT}, CampaignStatus.RUNNING),
    "pause": ({CampaignStatus.RUNNING}, CampaignStatus.PAUSED),
    "resume": ({CampaignStatus.PAUSED}, CampaignStatus.RUNNING),
    "cancel": (
        {CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED},
        CampaignStatus.CANCELLED,
    ),
    "complete": ({CampaignStatus.RUNNING}, CampaignStatus.COMPLETED),
}


def next_status(current: CampaignStatus, action: str, name: str) -> CampaignStatus:
    """The status after ``action``, or :class:`TransitionError` saying why not."""
    allowed, target = _ALLOWED[action]
    if current not in allowed:
        states = " or ".join(sorted(s.value for s in allowed))
        raise TransitionError(f"campaign {name} is {current.value}; {action} needs it {states}")
    return target
