"""Which delivery outcome each recipient gets: first by address rule, then by probability."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from warmup.emulator.config import DeliveryStatus, EmulatorConfig, OutcomeRule

_RANDOM_DETAILS = {
    DeliveryStatus.BOUNCED: "550 5.1.1 Recipient address rejected: user unknown.",
    DeliveryStatus.FAILED: "554 5.7.1 Message rejected by the recipient's server.",
    DeliveryStatus.FILTERED_SPAM: "Message was identified as spam.",
}


@dataclass(frozen=True)
class DeliveryFate:
    """What the emulated mail server does with one recipient."""

    status: DeliveryStatus
    details: str
    mail_server: str


@lru_cache(maxsize=256)
def compiled(pattern: str) -> re.Pattern[str]:
    """A rule's case-insensitive pattern, compiled once."""
    return re.compile(pattern, re.IGNORECASE)


def _by_rule(address: str, rules: Sequence[OutcomeRule]) -> OutcomeRule | None:
    for rule in rules:
        if compiled(rule.pattern).search(address):
            return rule
    return None


def decide(address: str, config: EmulatorConfig, rng: random.Random) -> DeliveryFate:
    """The outcome for one recipient. Rules win over the random rates."""
    server = f"mx.{address.rpartition('@')[2].lower()}"
    rule = _by_rule(address, config.outcome_rules)
    if rule is not None:
        return DeliveryFate(rule.status, rule.details or rule.status.value, server)
    draw = rng.random()
    for status, rate in (
        (DeliveryStatus.BOUNCED, config.bounce_rate),
        (DeliveryStatus.FAILED, config.failure_rate),
        (DeliveryStatus.FILTERED_SPAM, config.spam_rate),
    ):
        if draw < rate:
            return DeliveryFate(status, _RANDOM_DETAILS[status], server)
        draw -= rate
    return DeliveryFate(DeliveryStatus.DELIVERED, "No error.", server)
