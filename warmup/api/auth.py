"""Bearer tokens and roles: who is calling, and may they do this?

No token, an unknown one or a revoked one is 401 with ``WWW-Authenticate: Bearer``; a live token
whose role does not allow the change is 403. Either way nothing has been done: the check runs
before the route. What the caller changes is recorded in the audit log as ``token:<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from warmup.api.services import Services, services
from warmup.tokens import Role, TokenInfo

_bearer = HTTPBearer(auto_error=False, description="An API token: `warmup token create`.")


async def caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    found: Annotated[Services, Depends(services)],
) -> TokenInfo:
    if credentials is None:
        raise HTTPException(401, "an API token is required", {"WWW-Authenticate": "Bearer"})
    info = await run_in_threadpool(
        found.tokens.authenticate, credentials.credentials, found.clock.now()
    )
    if info is None:
        raise HTTPException(
            401, "the API token is not valid (unknown or revoked)", {"WWW-Authenticate": "Bearer"}
        )
    return info


Caller = Annotated[TokenInfo, Depends(caller)]


def insist(who: TokenInfo, role: Role, what: str) -> None:
    """403 unless ``who`` may do ``role``'s work: for a part of a request (``what``) that needs
    more than the route itself."""
    if not who.role.may(role):
        raise HTTPException(
            403, f"{what} is {role.value}' decision: token {who.name} has role {who.role.value}"
        )


def requires(role: Role) -> Callable[[TokenInfo], TokenInfo]:
    """A dependency that lets through tokens whose role may do ``role``'s work."""

    def check(who: Caller) -> TokenInfo:
        if not who.role.may(role):
            raise HTTPException(
                403, f"token {who.name} has role {who.role.value}; this needs {role.value}"
            )
        return who

    return check


Marketing = Annotated[TokenInfo, Depends(requires(Role.MARKETING))]
Ops = Annotated[TokenInfo, Depends(requires(Role.OPS))]
Admin = Annotated[TokenInfo, Depends(requires(Role.ADMIN))]
