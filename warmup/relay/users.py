"""Relay users: the short usernames ops create for apps and devices, one domain each.

The only writer of ``relay_users``. A password is made here, shown once, and kept only as a
scrypt hash. A successful check is remembered for a minute per process (keyed by a keyed hash
of the password, never the password), so a device that logs in for every scan does not cost
50 ms of scrypt each time; a removed user is refused at most that long after.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from warmup import audit
from warmup.domains.store import DomainStore
from warmup.errors import ConfigError, ConflictError, NotFoundError
from warmup.relay.passwords import hash_password, new_password, verify_nobody, verify_password
from warmup.store.database import Database
from warmup.store.models import RelayUser

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# Many printers and appliances take about 25 characters of username at most.
DEVICE_USERNAME_LIMIT = 25
REMEMBER_SECONDS = 60.0


def _storable(name: str) -> bool:
    """Whether a name could be a user's (no control character, PostgreSQL keeps no NUL)."""
    return len(name) <= 200 and not any(ord(c) < 32 or c == "\x7f" for c in name)


@dataclass(frozen=True)
class RelayAccount:
    name: str
    domain: str
    domain_id: int


@dataclass(frozen=True)
class RelayUserInfo:
    name: str
    domain: str
    created_at: datetime
    created_by: str


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ConfigError(
            f"relay username {name!r}: 1 to 64 characters of a-z, 0-9, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


class RelayUsers:
    def __init__(
        self,
        database: Database,
        domains: DomainStore,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = database
        self._domains = domains
        self._monotonic = monotonic
        self._key = secrets.token_bytes(32)  # this process's, for the remembered checks
        self._remembered: dict[tuple[str, bytes], tuple[float, RelayAccount]] = {}

    def add(self, name: str, domain: str, *, actor: str, at: datetime) -> str:
        """Create the user on the domain; return its password (it is not kept anywhere)."""
        check_name(name)
        record = self._domains.get(domain)
        password = new_password()
        try:
            with self._db.session() as session:
                session.add(
                    RelayUser(
                        name=name,
                        domain_id=record.id,
                        password_hash=hash_password(password),
                        created_at=at,
                        created_by=actor,
                    )
                )
                audit.record(
                    session,
                    "relay-user",
                    name,
                    "create",
                    actor=actor,
                    at=at,
                    reason=f"may relay for {record.state.domain}",
                )
        except IntegrityError:
            raise ConflictError(f"a relay user named {name!r} already exists") from None
        return password

    def all(self) -> list[RelayUserInfo]:
        names = {record.id: record.state.domain for record in self._domains.all()}
        query = select(RelayUser).order_by(RelayUser.name)
        with self._db.session() as session:
            return [
                RelayUserInfo(user.name, names[user.domain_id], user.created_at, user.created_by)
                for user in session.scalars(query)
            ]

    def remove(self, name: str, *, actor: str, at: datetime) -> None:
        with self._db.session() as session:
            removed = session.execute(
                delete(RelayUser).where(RelayUser.name == name).returning(RelayUser.id)
            ).all()
            if not removed:
                raise NotFoundError(f"no relay user {name!r}")
            audit.record(session, "relay-user", name, "remove", actor=actor, at=at, reason="")

    def authenticate(self, name: str, password: str) -> RelayAccount | None:
        """The account when the password is right, else ``None`` (unknown or wrong alike)."""
        key = (name, hmac.new(self._key, password.encode(), hashlib.sha256).digest())
        now = self._monotonic()
        remembered = self._remembered.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        query = select(RelayUser.password_hash, RelayUser.domain_id).where(RelayUser.name == name)
        found = None
        if _storable(name):  # no user's name has a control character (nor can PostgreSQL's)
            with self._db.session() as session:
                found = session.execute(query).first()
        if found is None:
            verify_nobody(password)  # as long as a wrong password: timing tells no names
            return None
        if not verify_password(password, found[0]):
            return None
        domain = self._domains.status_by_id(found[1])
        if domain is None:  # removed meanwhile
            return None
        account = RelayAccount(name, domain.name, found[1])
        self._remembered[key] = (now + REMEMBER_SECONDS, account)
        return account
