"""Campaign statuses and the rules between them, A/B variants, and the parsing of what people
type for them (pure: no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from warmup.campaigns.record import CampaignRecord
from warmup.content.hygiene import with_text_part
from warmup.content.templates import MessageTemplate
from warmup.errors import ContentError, TransitionError
from warmup.ledger.fill import TestGroup
from warmup.store.models import CANCELLED_STATUS, COMPLETED_STATUS, RUNNING_STATUS

VARIANT_LABELS = ("A", "B", "C", "D")  # A is the campaign's own message

# Outcomes a follow-up campaign may retry: the message may not have reached the person. A
# delivery, a hard bounce, a complaint or a suppression is never retried.
RETRYABLE_OUTCOMES = ("soft_failure", "failed", "unknown")
_OUTCOME_NAMES = {"soft_bounce": "soft_failure", **{o: o for o in RETRYABLE_OUTCOMES}}


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    STARTING = "starting"  # its ledger is being filled; nothing is sent until it is full
    RUNNING = RUNNING_STATUS
    PAUSED = "paused"
    COMPLETED = COMPLETED_STATUS
    CANCELLED = CANCELLED_STATUS


_ALLOWED = {
    "start": ({CampaignStatus.DRAFT}, CampaignStatus.STARTING),
    "filled": ({CampaignStatus.STARTING}, CampaignStatus.RUNNING),
    "pause": ({CampaignStatus.RUNNING}, CampaignStatus.PAUSED),
    "resume": ({CampaignStatus.PAUSED}, CampaignStatus.RUNNING),
    "cancel": (
        {
            CampaignStatus.DRAFT,
            CampaignStatus.STARTING,
            CampaignStatus.RUNNING,
            CampaignStatus.PAUSED,
        },
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


def retry_outcomes(text: str) -> list[str]:
    """``soft_bounce,failed,unknown`` as ledger outcomes; anything else is refused."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in _OUTCOME_NAMES]
    if unknown or not names:
        raise ContentError(
            f"outcomes {', '.join(unknown) or '(none)'}: choose among soft_bounce (soft_failure), "
            "failed, unknown; delivered, bounced and complained rows are never retried"
        )
    return sorted({_OUTCOME_NAMES[name] for name in names})


_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_age(text: str) -> timedelta:
    """``24h``, ``90m``, ``2d`` or ``0`` as a duration."""
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    number, unit = value[:-1], value[-1:]
    if unit not in _UNITS or not number.isdigit():
        raise ContentError(f"{text!r}: give an age such as 90m, 24h or 2d (or 0)")
    return timedelta(seconds=int(number) * _UNITS[unit])


def parse_start(text: str, zone: tzinfo) -> datetime:
    """``2026-12-01 09:00`` in ``zone`` (or with its own offset) as an aware time."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ContentError(f"{text!r}: give a time such as '2026-12-01 09:00'") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


@dataclass(frozen=True)
class Variant:
    """What an A/B variant changes of the campaign's message: a subject, a body, or both."""

    label: str
    subject: str | None = None
    html: str | None = None
    text: str | None = None

    def template(self, base: MessageTemplate) -> MessageTemplate:
        """The variant's whole message: its own parts, the campaign's for the rest (a new HTML
        body brings its own text part, made from it if none is given)."""
        if self.html is None:
            return MessageTemplate(
                self.subject or base.subject, base.html, self.text if self.text else base.text
            )
        own = MessageTemplate(self.subject or base.subject, self.html, self.text)
        return with_text_part(own)[0]

    def stored(self) -> dict[str, str | None]:
        return {"label": self.label, "subject": self.subject, "html": self.html, "text": self.text}

    @classmethod
    def from_stored(cls, value: dict[str, Any]) -> Variant:
        return cls(
            label=str(value["label"]),
            subject=value.get("subject"),
            html=value.get("html"),
            text=value.get("text"),
        )


def test_group(campaign: CampaignRecord, list_size: int) -> TestGroup | None:
    """An A/B campaign's test group: its share of the list (at least a row per variant), split
    between the campaign's own message (A) and its variants."""
    if not campaign.variants or campaign.test_fraction is None:
        return None
    labels = variant_labels(campaign)
    rows = max(len(labels), math.ceil(campaign.test_fraction * list_size))
    return TestGroup(labels, rows)


def variant_labels(campaign: CampaignRecord) -> tuple[str, ...]:
    """A (the campaign's own message) and its variants' labels; () without an A/B test."""
    if not campaign.variants:
        return ()
    return (VARIANT_LABELS[0], *(str(v["label"]) for v in campaign.variants))
