"""API tokens: created and revoked by admins, each with one role, kept only as a hash.

A token is 32 random bytes (``wu_`` + URL-safe base64). Guessing one is hopeless, so a plain
SHA-256 is the right hash: a slow password hash (bcrypt, argon2) only protects low-entropy
secrets, and would cost every API call tens of milliseconds. The token itself is shown once, at
creation; afterwards only its name and first characters (``prefix``) are ever shown.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select

from warmup import audit
from warmup.errors import ConfigError, NotFoundError
from warmup.store.database import Database
from warmup.store.models import ApiToken

TOKEN_PREFIX = "wu_"  # noqa: S105 - not a secret: the mark every token starts with
SHOWN_CHARS = 10  # "wu_" and 7 characters: enough to tell tokens apart, useless to an attacker
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
# last_used_at is for people ("is this token still used?"): a write a minute per token is enough.
TOUCH_EVERY = timedelta(minutes=1)


class Role(StrEnum):
    """What a token may change. Every role may read; admin may do everything."""

    MARKETING = "marketing"  # lists and campaigns
    OPS = "ops"  # sending domains, plans, resuming
    ADMIN = "admin"  # tokens, and all of the above

    def may(self, needed: Role) -> bool:
        return self is Role.ADMIN or self is needed


@dataclass(frozen=True)
class TokenInfo:
    """A token as it may be shown: never the secret."""

    name: str
    role: Role
    prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def actor(self) -> str:
        """How the audit log names changes made with this token: its name and its role."""
        return f"token:{self.name} ({self.role.value})"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class TokenStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, name: str, role: Role, *, actor: str, at: datetime) -> tuple[str, TokenInfo]:
        """A new token and what may be shown of it. The token is not kept: hand it over now."""
        if not NAME.match(name):
            raise ConfigError(
                f"token name {name!r}: use 1-100 letters, digits and . _ @ -, starting with a "
                "letter or digit"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiToken(
            name=name,
            role=role.value,
            token_hash=hash_token(token),
            prefix=token[:SHOWN_CHARS],
            created_at=at,
            created_by=actor,
        )
        with self._db.session() as session:
            if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
                raise ConfigError(f"a token named {name!r} exists (revoke it, or pick a new name)")
            session.add(row)
            audit.record(session, "token", name, "create", actor=actor, at=at, reason=role.value)
            session.flush()
            return token, _info(row)

    def revoke(self, name: str, *, actor: str, at: datetime) -> TokenInfo:
        with self._db.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.name == name))
            if row is None:
                raise NotFoundError(f"no token named {name!r}")
            if row.revoked_at is None:
                row.revoked_at = at
                row.revoked_by = actor
                audit.record(session, "token", name, "revoke", actor=actor, at=at, reason="")
            return _info(row)

    def all(self) -> list[TokenInfo]:
        with self._db.session() as session:
            return [_info(r) for r in session.scalars(select(ApiToken).order_by(ApiToken.name))]

    def authenticate(self, token: str, at: datetime) -> TokenInfo | None:
        """The live token this is, or None (unknown, malformed or revoked)."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        # The lookup is by hash, so timing says nothing about how much of a token was right.
        with self._db.session() as session:
            row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
            if row is None or row.revoked_at is not None:
                return None
            if row.last_used_at is None or at - row.last_used_at >= TOUCH_EVERY:
                row.last_used_at = at
            return _info(row)
