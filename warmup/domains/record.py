"""A sending domain as the rest of the service sees it, and its state's columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from warmup.control.caps import AcsQuota, Caps, caps
from warmup.control.dns_posture import DnsPosture
from warmup.control.state import HEALTH_GATE, DomainState, GateMark, ProviderHold, Status
from warmup.plans.model import Plan, ProviderGroup
from warmup.sending.transport import Transport
from warmup.store.models import SendingDomain


@dataclass(frozen=True)
class Authentication:
    management: str  # CustomerManaged, AzureManaged...
    states: Mapping[str, str]  # Domain, SPF, DKIM, DKIM2, DMARC → Verified, NotStarted...
    checked_at: datetime

    @classmethod
    def from_columns(cls, text: str | None, checked_at: datetime | None) -> Authentication | None:
        if text is None or checked_at is None:
            return None
        stored = json.loads(text)
        return cls(str(stored["management"]), dict(stored["states"]), checked_at)

    def column(self) -> str:
        return json.dumps({"management": self.management, "states": dict(self.states)})


@dataclass(frozen=True)
class DomainRecord:
    id: int
    state: DomainState
    plan: Plan
    quota: AcsQuota
    senders: tuple[str, ...]
    version: int
    day_closed: str | None = None
    transport: Transport = Transport.REST
    # The DNS records as ACS last verified them (None: never checked), and when.
    authentication: Authentication | None = None
    # Its SPF, DMARC and MX as DNS last gave them (None: never read).
    dns_posture: DnsPosture | None = None
    created_at: datetime | None = None  # when the domain was added

    @cached_property
    def caps(self) -> Caps:
        """The caps at the domain's step, worked out once per record (the send path asks for
        them on every permit)."""
        return caps(self.plan, self.state.step, self.quota)


def state_of(row: SendingDomain) -> DomainState:
    return DomainState(
        domain=row.name,
        plan=row.plan_name,
        step=row.step,
        status=Status(row.status),
        reason=row.reason,
        since=row.since,
        healthy_days_at_step=row.healthy_days_at_step,
        sending_days=row.sending_days,
        idle_days=row.idle_days,
        held_by=row.held_by,
        health_since=row.health_since,
        streak_days=tuple(date.fromisoformat(d) for d in (row.streak_days or "").split(",") if d),
        troubled_at=row.troubled_at,
        provider_holds=_holds_of(row.provider_holds),
        gate_marks=_marks_of(row.gate_marks),
    )


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _marks_of(text: str | None) -> tuple[GateMark, ...]:
    return tuple(
        GateMark(
            gate=str(item["gate"]),
            held_at=_moment(item.get("held_at")),
            released_at=_moment(item.get("released_at")),
            judged_since=_moment(item.get("judged_since")),
        )
        for item in json.loads(text or "[]")
    )


def _marks_text(marks: tuple[GateMark, ...]) -> str | None:
    if not marks:
        return None
    return json.dumps(
        [
            {
                "gate": m.gate,
                "held_at": m.held_at.isoformat() if m.held_at else None,
                "released_at": m.released_at.isoformat() if m.released_at else None,
                "judged_since": m.judged_since.isoformat() if m.judged_since else None,
            }
            for m in marks
        ]
    )


def _holds_of(text: str | None) -> tuple[ProviderHold, ...]:
    return tuple(
        ProviderHold(
            group=ProviderGroup(item["group"]),
            paused=bool(item["paused"]),
            reason=str(item["reason"]),
            since=datetime.fromisoformat(item["since"]),
            by=str(item.get("by", HEALTH_GATE)),
        )
        for item in json.loads(text or "[]")
    )


def _holds_text(holds: tuple[ProviderHold, ...]) -> str | None:
    if not holds:
        return None
    return json.dumps(
        [
            {
                "group": h.group.value,
                "paused": h.paused,
                "reason": h.reason,
                "since": h.since.isoformat(),
                "by": h.by,
            }
            for h in holds
        ]
    )


def state_columns(state: DomainState) -> dict[str, object]:
    return {
        "plan_name": state.plan,
        "step": state.step,
        "status": state.status.value,
        "reason": state.reason,
        "since": state.since,
        "healthy_days_at_step": state.healthy_days_at_step,
        "sending_days": state.sending_days,
        "idle_days": state.idle_days,
        "held_by": state.held_by,
        "health_since": state.health_since,
        "streak_days": ",".join(d.isoformat() for d in state.streak_days),
        "troubled_at": state.troubled_at,
        "provider_holds": _holds_text(state.provider_holds),
        "gate_marks": _marks_text(state.gate_marks),
    }
