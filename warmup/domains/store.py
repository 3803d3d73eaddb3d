"""Sending domains in the store: their warm-up state, sender addresses and audit trail.

Every change goes through :meth:`DomainStore.transition`: it loads the domain, asks a pure
decision function (:mod:`warmup.control.machine`) what to do, and writes the new state with its
audit entries in one transaction. The write checks the row's version, so a worker applying a
health verdict and ops resuming at the same moment cannot overwrite each other: the loser
reloads and decides again on the fresh state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from warmup import audit
from warmup.addresses import (
    InvalidAddress,
    address_key,
    domain_key,
    domain_of,
    normalise_address,
)
from warmup.audit import AuditFilter, AuditLog, AuditRecord
from warmup.control.caps import AcsQuota
from warmup.control.dns_posture import DnsPosture, problems
from warmup.control.machine import Decision, new_domain
from warmup.control.state import Status, Transition
from warmup.domains.record import Authentication, DomainRecord, state_columns, state_of
from warmup.errors import ConfigError, ConflictError, NotFoundError, TransitionError
from warmup.plans.loader import parse_plan
from warmup.plans.model import Plan
from warmup.sending.transport import Transport
from warmup.store.database import Database
from warmup.store.models import SenderAddress, SendingDomain

MAX_ATTEMPTS = 30


class _Conflict(Exception):
    """Someone else changed the domain between our read and our write."""


class UnknownDomainError(NotFoundError):
    """No sending domain by that name."""


def transition_entry(transition: Transition) -> dict[str, object]:
    return audit.audit_values(
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


def _sender_address(address: str) -> str:
    try:
        return normalise_address(address)
    except InvalidAddress as exc:
        raise ConfigError(f"{address!r} is not a sender address: {exc}") from None


@lru_cache(maxsize=256)
def _stored_plan(plan_yaml: str, domain: str) -> Plan:
    # Parsed once per distinct plan text, not on every read: the dispatcher reads every domain
    # every second. Plans are frozen, so one parsed object can be shared.
    return parse_plan(plan_yaml, f"<plan stored for {domain}>")


def _already_closed(closed: str | None, closing: str | None) -> bool:
    """Whether the day being closed (an ISO date: text order is date order) is closed."""
    return closing is not None and closed is not None and closed >= closing


@dataclass(frozen=True)
class DomainStatus:
    name: str
    status: Status
    reason: str


class DomainStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def _row(self, session: Session, name: str) -> SendingDomain:
        row = session.scalar(select(SendingDomain).where(SendingDomain.name == domain_key(name)))
        if row is None:
            raise UnknownDomainError(f"no sending domain {name!r} (add it with: warmup domain add)")
        return row

    def _record(
        self, session: Session, row: SendingDomain, senders: Sequence[str] | None = None
    ) -> DomainRecord:
        if senders is None:
            senders = session.scalars(
                select(SenderAddress.address)
                .where(SenderAddress.domain_id == row.id)
                .order_by(SenderAddress.address)
            ).all()
        return DomainRecord(
            id=row.id,
            state=state_of(row),
            plan=_stored_plan(row.plan_yaml, row.name),
            quota=AcsQuota(per_minute=row.acs_per_minute, per_hour=row.acs_per_hour),
            senders=tuple(senders),
            version=row.version,
            day_closed=row.day_closed,
            transport=Transport(row.transport),
            authentication=Authentication.from_columns(
                row.authentication, row.authentication_checked_at
            ),
            dns_posture=DnsPosture.from_column(row.dns_posture),
            created_at=row.created_at,
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
        transport: Transport = Transport.REST,
    ) -> DomainRecord:
        name = domain_key(name)
        for address in senders:
            if domain_of(_sender_address(address)) != name:
                raise ConfigError(f"sender {address} is not on the domain {name}")
        decision = new_domain(name, plan, at=at, actor=actor)
        with self._db.session() as session:
            if (
                session.scalar(select(SendingDomain.id).where(SendingDomain.name == name))
                is not None
            ):
                raise ConflictError(f"sending domain {name} already exists")
            row = SendingDomain(
                name=name,
                plan_yaml=plan_yaml,
                acs_per_minute=quota.per_minute,
                acs_per_hour=quota.per_hour,
                transport=transport.value,
                version=1,
                created_at=at,
                **state_columns(decision.state),
            )
            session.add(row)
            session.flush()
            session.add_all(
                SenderAddress(domain_id=row.id, address=_sender_address(a)) for a in senders
            )
            audit.record_all(session, (transition_entry(t) for t in decision.transitions))
            session.flush()
            return self._record(session, row)

    def get(self, name: str) -> DomainRecord:
        with self._db.session() as session:
            return self._record(session, self._row(session, name))

    def status_by_id(self, domain_id: int) -> DomainStatus | None:
        """A domain's name, status and why, by id (the workers' gate, every second or so):
        one row, no plan or senders."""
        query = select(SendingDomain.name, SendingDomain.status, SendingDomain.reason).where(
            SendingDomain.id == domain_id
        )
        with self._db.engine.connect() as connection:
            row = connection.execute(query).first()
        return DomainStatus(row[0], Status(row[1]), row[2]) if row is not None else None

    def all(self) -> list[DomainRecord]:
        with self._db.session() as session:
            rows = session.scalars(select(SendingDomain).order_by(SendingDomain.name)).all()
            # Every domain's senders in one read, not one a domain (the dispatcher's every tick).
            senders: dict[int, list[str]] = {}
            for domain_id, address in session.execute(
                select(SenderAddress.domain_id, SenderAddress.address).order_by(
                    SenderAddress.address
                )
            ):
                senders.setdefault(domain_id, []).append(address)
            return [self._record(session, row, senders.get(row.id, [])) for row in rows]

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
            if _already_closed(record.day_closed, day_closed):
                # Another housekeeping run closed that day since this one read the domain
                # (two dispatch workers at midnight): a day is counted once.
                return Decision(record.state)
            decision = decide(record)
            unchanged = not decision.transitions and decision.state == record.state
            if unchanged and day_closed is None:
                return decision
            values = state_columns(decision.state)
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
            audit.record_all(session, (transition_entry(t) for t in decision.transitions))
            return decision

    def set_quota(
        self, name: str, quota: AcsQuota, *, actor: str, reason: str, at: datetime
    ) -> None:
        with self._db.session() as session:
            row = self._row(session, name)
            before = f"{row.acs_per_minute}/min, {row.acs_per_hour}/hour"
            row.acs_per_minute, row.acs_per_hour = quota.per_minute, quota.per_hour
            row.version += 1
            audit.record(
                session,
                "domain",
                row.name,
                "set-quota",
                actor=actor,
                at=at,
                reason=f"{reason} ({before} → {quota.per_minute}/min, {quota.per_hour}/hour)",
                details={"per_minute": quota.per_minute, "per_hour": quota.per_hour},
            )

    def set_authentication(
        self, name: str, found: Authentication, *, actor: str, unverified: list[str]
    ) -> None:
        """Keep what ACS said of the domain's DNS records (``warmup acs domain check``)."""
        with self._db.session() as session:
            row = self._row(session, name)
            row.authentication = found.column()
            row.authentication_checked_at = found.checked_at
            row.version += 1
            # Name what failed, not the three records: "SPF, DKIM, DMARC not verified: DKIM"
            # read as if all three had.
            verdict = (
                "not verified: " + ", ".join(unverified)
                if unverified
                else "SPF, DKIM and DMARC verified"
            )
            audit.record(
                session,
                "domain",
                row.name,
                "check-authentication",
                actor=actor,
                at=found.checked_at,
                reason=verdict,
                details={"management": found.management, "states": dict(found.states)},
            )

    def set_dns_posture(self, name: str, posture: DnsPosture, *, actor: str) -> None:
        """Keep the domain's SPF, DMARC and MX as DNS gave them (``warmup acs domain check``)."""
        with self._db.session() as session:
            row = self._row(session, name)
            row.dns_posture = posture.column()
            row.version += 1
            found = problems(posture)
            audit.record(
                session,
                "domain",
                row.name,
                "check-dns",
                actor=actor,
                at=posture.checked_at,
                reason="; ".join(found) if found else "SPF and DMARC fit for bulk mail",
                details=json.loads(posture.column()),
            )

    def set_transport(
        self, name: str, transport: Transport, *, actor: str, reason: str, at: datetime
    ) -> None:
        """Send the domain's mail over REST or SMTP from the next batch on (workers reread
        the domain within the gate's TTL)."""
        with self._db.session() as session:
            row = self._row(session, name)
            before = row.transport
            row.transport = transport.value
            row.version += 1
            audit.record(
                session,
                "domain",
                row.name,
                "set-transport",
                actor=actor,
                at=at,
                reason=f"{reason} ({before} → {transport.value})",
                details={"transport": transport.value},
            )

    def add_sender(self, name: str, address: str, *, actor: str, at: datetime) -> None:
        with self._db.session() as session:
            row = self._row(session, name)
            if domain_of(_sender_address(address)) != row.name:
                raise ConfigError(f"sender {address} is not on the domain {row.name}")
            normal = _sender_address(address)
            exists = session.scalar(select(SenderAddress.id).where(SenderAddress.address == normal))
            if exists is not None:
                raise TransitionError(f"sender {address} is already registered")
            session.add(SenderAddress(domain_id=row.id, address=normal))
            audit.record(
                session, "domain", row.name, "add-sender", actor=actor, reason=address, at=at
            )

    def remove_sender(self, name: str, address: str, *, actor: str, at: datetime) -> bool:
        """Take a sender address off the domain (False: it was not registered): campaigns
        can no longer be created, edited or started with it."""
        normal = _sender_address(address)
        with self._db.session() as session:
            row = self._row(session, name)
            removed = session.execute(
                delete(SenderAddress).where(
                    SenderAddress.domain_id == row.id, SenderAddress.address == normal
                )
            )
            if not removed.rowcount:  # type: ignore[attr-defined]
                return False
            audit.record(
                session, "domain", row.name, "remove-sender", actor=actor, reason=address, at=at
            )
            return True

    def domain_of_sender(self, address: str) -> DomainRecord:
        """The domain a sender address is registered on, or :class:`ConfigError`."""
        with self._db.session() as session:
            row = session.scalar(
                select(SendingDomain)
                .join(SenderAddress, SenderAddress.domain_id == SendingDomain.id)
                .where(SenderAddress.address == address_key(address))
            )
            if row is None:
                raise ConfigError(
                    f"{address} is not a registered sender address "
                    "(add it with: warmup domain add-sender)"
                )
            return self._record(session, row)

    def audit(self, name: str, limit: int = 20) -> list[AuditRecord]:
        domain = self.get(name).state.domain
        return AuditLog(self._db).newest(AuditFilter(subject_type="domain", subject=domain), limit)
