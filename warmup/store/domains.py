"""Sending domains in the store: their warm-up state, sender addresses and audit trail.

Every change goes through :meth:`DomainStore.transition`: it loads the domain, asks a pure
decision function (:mod:`warmup.control.machine`) what to do, and writes the new state with its
audit entries in one transaction. The write checks the row's version, so a worker applying a
health verdict and ops resuming at the same moment cannot overwrite each other: the loser
reloads and decides again on the fresh state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from warmup.control.allowance import AcsQuota
from warmup.control.machine import Decision, new_domain
from warmup.control.state import DomainState, Status, Transition
from warmup.errors import ConfigError, NotFoundError, TransitionError
from warmup.plans.loader import parse_plan
from warmup.plans.model import Plan
from warmup.store.audit import audit_entry
from warmup.store.database import Database
from warmup.store.models import AuditEntry, SenderAddress, SendingDomain

MAX_ATTEMPTS = 30


class _Conflict(Exception):
    """Someone else changed the domain between our read and our write."""


class UnknownDomainError(NotFoundError):
    """No sending domain by that name."""


@dataclass(frozen=True)
class DomainRecord:
    id: int
    state: DomainState
    plan: Plan
    quota: AcsQuota
    senders: tuple[str, ...]
    version: int
    day_closed: str | None = None


def _state(row: SendingDomain) -> DomainState:
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
    )


def _state_columns(state: DomainState) -> dict[str, object]:
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
    }


def transition_entry(transition: Transition) -> AuditEntry:
    return audit_entry(
        "domain",
        transition.domain,
        transition.action,
        actor=transition.actor,
        reason=transition.reason,
        at=transition.at,
        details={
            "from_status": transition.from_status.value,
            "to_status": transition.to_status.value,
            "from_step": transition.from_step,
            "to_step": transition.to_step,
        },
    )


def sender_domain(address: str) -> str:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ConfigError(f"{address!r} is not a sender address")
    return domain.lower()


class DomainStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def _row(self, session: Session, name: str) -> SendingDomain:
        row = session.scalar(select(SendingDomain).where(SendingDomain.name == name.lower()))
        if row is None:
            raise UnknownDomainError(f"no sending domain {name!r} (add it with: warmup domain add)")
        return row

    def _record(self, session: Session, row: SendingDomain) -> DomainRecord:
        senders = session.scalars(
            select(SenderAddress.address)
            .where(SenderAddress.domain_id == row.id)
            .order_by(SenderAddress.address)
        ).all()
        return DomainRecord(
            id=row.id,
            state=_state(row),
            plan=parse_plan(row.plan_yaml, f"<plan stored for {row.name}>"),
            quota=AcsQuota(per_minute=row.acs_per_minute, per_hour=row.acs_per_hour),
            senders=tuple(senders),
            version=row.version,
            day_closed=row.day_closed,
        )

    def create(
        self,
        name: str,
        plan: Plan,
        plan_yaml: str,
        *,
        quota: AcsQuota,
        senders: list[str],
        actor: str,
        at: datetime,
    ) -> DomainRecord:
        name = name.strip().lower()
        for address in senders:
            if sender_domain(address) != name:
                raise ConfigError(f"sender {address} is not on the domain {name}")
        decision = new_domain(name, plan, at=at, actor=actor)
        with self._db.session() as session:
            if (
                session.scalar(select(SendingDomain.id).where(SendingDomain.name == name))
                is not None
            ):
                raise TransitionError(f"sending domain {name} already exists")
            row = SendingDomain(
                name=name,
                plan_yaml=plan_yaml,
                acs_per_minute=quota.per_minute,
                acs_per_hour=quota.per_hour,
                version=1,
                created_at=at,
                **_state_columns(decision.state),
            )
            session.add(row)
            session.flush()
            session.add_all(
                SenderAddress(domain_id=row.id, address=a.strip().lower()) for a in senders
            )
            session.add_all(transition_entry(t) for t in decision.transitions)
            session.flush()
            return self._record(session, row)

    def get(self, name: str) -> DomainRecord:
        with self._db.session() as session:
            return self._record(session, self._row(session, name))

    def all(self) -> list[DomainRecord]:
        with self._db.session() as session:
            rows = session.scalars(select(SendingDomain).order_by(SendingDomain.name)).all()
            return [self._record(session, row) for row in rows]

    def transition(
        self,
        name: str,
        decide: Callable[[DomainRecord], Decision],
        *,
        plan_yaml: str | None = None,
        day_closed: str | None = None,
    ) -> Decision:
        """Apply ``decide`` to the current state and store the result.

        On a conflicting write the whole read-decide-write is retried after a short random
        wait, so contenders spread out instead of colliding again.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(_Conflict),
            stop=stop_after_attempt(MAX_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.002, max=0.1),
        )
        try:
            return retrying(self._transition_once, name, decide, plan_yaml, day_closed)
        except RetryError:
            raise TransitionError(f"{name}: too many concurrent changes; try again") from None

    def _transition_once(
        self,
        name: str,
        decide: Callable[[DomainRecord], Decision],
        plan_yaml: str | None,
        day_closed: str | None,
    ) -> Decision:
        with self._db.session() as session:
            row = self._row(session, name)
            record = self._record(session, row)
            decision = decide(record)
            unchanged = not decision.transitions and decision.state == record.state
            if unchanged and day_closed is None:
                return decision
            values = _state_columns(decision.state)
            if plan_yaml is not None:
                values["plan_yaml"] = plan_yaml
            if day_closed is not None:
                values["day_closed"] = day_closed
            written = session.execute(
                update(SendingDomain)
                .where(SendingDomain.id == row.id, SendingDomain.version == record.version)
                .values(**values, version=record.version + 1)
                .execution_options(synchronize_session=False)
            )
            if written.rowcount != 1:  # type: ignore[attr-defined]
                raise _Conflict
            session.add_all(transition_entry(t) for t in decision.transitions)
            return decision

    def set_quota(
        self, name: str, quota: AcsQuota, *, actor: str, reason: str, at: datetime
    ) -> None:
        with self._db.session() as session:
            row = self._row(session, name)
            before = f"{row.acs_per_minute}/min, {row.acs_per_hour}/hour"
            row.acs_per_minute, row.acs_per_hour = quota.per_minute, quota.per_hour
            row.version += 1
            session.add(
                audit_entry(
                    "domain",
                    row.name,
                    "set-quota",
                    actor=actor,
                    at=at,
                    reason=f"{reason} ({before} → {quota.per_minute}/min, {quota.per_hour}/hour)",
                    details={"per_minute": quota.per_minute, "per_hour": quota.per_hour},
                )
            )

    def add_sender(self, name: str, address: str, *, actor: str, at: datetime) -> None:
        with self._db.session() as session:
            row = self._row(session, name)
            if sender_domain(address) != row.name:
                raise ConfigError(f"sender {address} is not on the domain {row.name}")
            exists = session.scalar(
                select(SenderAddress.id).where(SenderAddress.address == address.lower())
            )
            if exists is not None:
                raise TransitionError(f"sender {address} is already registered")
            session.add(SenderAddress(domain_id=row.id, address=address.strip().lower()))
            session.add(
                audit_entry("domain", row.name, "add-sender", actor=actor, reason=address, at=at)
            )

    def domain_of_sender(self, address: str) -> DomainRecord:
        """The domain a sender address is registered on, or :class:`ConfigError`."""
        with self._db.session() as session:
            row = session.scalar(
                select(SendingDomain)
                .join(SenderAddress, SenderAddress.domain_id == SendingDomain.id)
                .where(SenderAddress.address == address.strip().lower())
            )
            if row is None:
                raise ConfigError(
                    f"{address} is not a registered sender address "
                    "(add it with: warmup domain add-sender)"
                )
            return self._record(session, row)

    def audit(self, name: str, limit: int = 20) -> list[AuditEntry]:
        with self._db.session() as session:
            row = self._row(session, name)
            return list(
                session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.subject_type == "domain", AuditEntry.subject == row.name)
                    .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                    .limit(limit)
                ).all()
            )
