"""A sending domain's warm-up state, and the transition record every change produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

SYSTEM = "system"  # the actor for automatic transitions (day boundaries)
HEALTH_GATE = "health-gate"  # the actor for transitions the health gates make


class Status(StrEnum):
    RAMPING = "ramping"  # sending at the step's caps, advancing on healthy sending days
    HOLDING = "holding"  # sending at the step's caps, not advancing
    PAUSED = "paused"  # sending nothing until ops resume
    COMPLETED = "completed"  # at the last step
    IDLE = "idle"  # no sending day for a while; sending is allowed


SENDING_STATUSES = frozenset({Status.RAMPING, Status.HOLDING, Status.COMPLETED, Status.IDLE})


@dataclass(frozen=True)
class DomainState:
    domain: str
    plan: str
    step: int = 0
    status: Status = Status.RAMPING
    reason: str = "new domain"
    since: datetime | None = None
    healthy_days_at_step: int = 0
    sending_days: int = 0
    idle_days: int = 0
    # Who put the domain on hold: the health gate releases only its own holds.
    held_by: str | None = None
    # Health is judged on reports after this moment: a resume starts a fresh window, or the
    # failures that caused the pause would pause the domain again at once.
    health_since: datetime | None = None

    @property
    def sends(self) -> bool:
        return self.status in SENDING_STATUSES


@dataclass(frozen=True)
class Transition:
    """One change of state, for the audit log."""

    at: datetime
    domain: str
    actor: str
    action: str
    from_status: Status
    to_status: Status
    from_step: int
    to_step: int
    reason: str

    def describe(self) -> str:
        step = (
            f"step {self.from_step}→{self.to_step}"
            if self.from_step != self.to_step
            else f"step {self.to_step}"
        )
        status = (
            f"{self.from_status.value}→{self.to_status.value}"
            if self.from_status != self.to_status
            else self.to_status.value
        )
        return f"{self.action} by {self.actor}: {status}, {step}: {self.reason}"
