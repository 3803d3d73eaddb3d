"""A sending domain's warm-up state, and the transition record every change produces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from warmup.plans.model import ProviderGroup

SYSTEM = "system"  # the actor for automatic transitions (day boundaries)
HEALTH_GATE = "health-gate"  # the actor for transitions the health gates make
# The actor for transitions Gmail Postmaster Tools' daily stats make (warmup.control.postmaster).
POSTMASTER_GATE = "postmaster-gate"


class Status(StrEnum):
    RAMPING = "ramping"  # sending at the step's caps, advancing on healthy sending days
    HOLDING = "holding"  # sending at the step's caps, not advancing
    PAUSED = "paused"  # sending nothing until ops resume
    COMPLETED = "completed"  # at the last step
    IDLE = "idle"  # no sending day for a while; sending is allowed


# Held or paused: a day that meets either is not a healthy day.
TROUBLED_STATUSES = frozenset({Status.HOLDING, Status.PAUSED})
SENDING_STATUSES = frozenset({Status.RAMPING, Status.HOLDING, Status.COMPLETED, Status.IDLE})


@dataclass(frozen=True)
class ProviderHold:
    """One provider group's traffic stopped by its own gates (or paused, until ops release it)."""

    group: ProviderGroup
    paused: bool
    reason: str
    since: datetime
    # The gate that holds it: a gate lifts only its own holds (ops lift any).
    by: str = HEALTH_GATE

    def describe(self, probe_share: float = 0.0) -> str:
        if self.paused:
            return f"{self.group.value} paused: {self.reason}"
        probing = f", probing at {probe_share:.0%} of its share" if probe_share else ""
        return f"{self.group.value} held{probing}: {self.reason}"


DOMAIN_GATE = "domain"  # the gate mark of the domain's own gates (the others: group names)


@dataclass(frozen=True)
class GateMark:
    """What a gate (the domain's, or a provider group's) remembers of its last hold.

    After a release, its evidence starts where that hold began (``judged_since``): the reports
    that caused the hold, already acted on, cannot hold it again at once. And it releases at
    most once a day (``released_at``), so no gate holds and releases more than once a day.
    """

    gate: str
    held_at: datetime | None = None  # when its current or last hold began
    released_at: datetime | None = None
    judged_since: datetime | None = None


@dataclass(frozen=True)
class DomainState:
    domain: str
    plan: str
    step: int = 0
    status: Status = Status.RAMPING
    reason: str = "new domain"
    since: datetime | None = None
    # Consecutive healthy sending days at this step, and which days they were (for reasons).
    healthy_days_at_step: int = 0
    streak_days: tuple[date, ...] = ()
    sending_days: int = 0
    idle_days: int = 0
    # Who put the domain on hold: the health gate releases only its own holds.
    held_by: str | None = None
    # Health is judged on reports after this moment: a resume starts a fresh window, or the
    # failures that caused the pause would pause the domain again at once.
    health_since: datetime | None = None
    # When the domain last went into or out of a hold or pause: a day that saw either is not
    # a healthy day, and a gate's hold is not lifted before it has lasted the plan's minimum.
    troubled_at: datetime | None = None
    # Provider groups whose own gates stopped their traffic; the rest keep sending.
    provider_holds: tuple[ProviderHold, ...] = ()
    # Each gate's last hold and release (see GateMark).
    gate_marks: tuple[GateMark, ...] = ()

    @property
    def sends(self) -> bool:
        return self.status in SENDING_STATUSES

    @property
    def held_providers(self) -> frozenset[ProviderGroup]:
        return frozenset(hold.group for hold in self.provider_holds)

    def provider_hold(self, group: ProviderGroup) -> ProviderHold | None:
        return next((hold for hold in self.provider_holds if hold.group is group), None)

    def gate_mark(self, gate: str) -> GateMark:
        return next((m for m in self.gate_marks if m.gate == gate), GateMark(gate))

    def with_mark(self, mark: GateMark) -> tuple[GateMark, ...]:
        """The marks with ``mark`` in place of the gate's earlier one."""
        return (*(m for m in self.gate_marks if m.gate != mark.gate), mark)


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
