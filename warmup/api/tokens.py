"""``/api/tokens`` (admin) and ``/api/whoami`` (anyone): tokens as they may be shown."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from warmup.api.auth import Admin, Caller
from warmup.api.bodies import Body
from warmup.api.services import Found
from warmup.tokens import Role, TokenInfo

router = APIRouter(prefix="/api", tags=["tokens"])


class TokenOut(BaseModel):
    name: str
    role: Role
    prefix: str  # the first characters, to tell tokens apart; never the token
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIn(Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role


class NewToken(TokenOut):
    token: str  # shown in this answer only; only its hash is kept


class WhoAmI(BaseModel):
    name: str
    role: Role
    may: list[Role]


def _out(info: TokenInfo) -> TokenOut:
    return TokenOut.model_validate(info, from_attributes=True)


@router.get("/whoami")
def whoami(who: Caller) -> WhoAmI:
    """The calling token's name and role, and which roles' work it may do."""
    return WhoAmI(name=who.name, role=who.role, may=[r for r in Role if who.role.may(r)])


@router.get("/tokens")
def all_tokens(_: Admin, found: Found) -> list[TokenOut]:
    return [_out(info) for info in found.tokens.all()]


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, who: Admin, found: Found) -> NewToken:
    """A new token; the answer is the only time it is shown."""
    token, info = found.tokens.create(body.name, body.role, actor=who.actor, at=found.clock.now())
    return NewToken(**_out(info).model_dump(), token=token)


@router.delete("/tokens/{name}")
def revoke_token(name: str, who: Admin, found: Found) -> TokenOut:
    """Revoke a token: refused from the next request on."""
    return _out(found.tokens.revoke(name, actor=who.actor, at=found.clock.now()))
