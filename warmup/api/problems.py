"""Our errors as HTTP answers: one JSON shape, ``{"error": ..., "problems": [...]}``.

The messages are the same the CLI prints; they are built without secrets (see warmup.errors).
Request validation (422), bodies nested past the parser's depth and values the database cannot
store (a NUL character) get the same shape and a 4xx, never a 500.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from warmup.errors import (
    ConfigError,
    ContentError,
    NotFoundError,
    PlanError,
    TransitionError,
    WarmupError,
)
from warmup.lists.source import ImportFailure

STATUS: list[tuple[type[WarmupError], int]] = [
    (NotFoundError, 404),
    (TransitionError, 409),
    (PlanError, 422),
    (ContentError, 422),
    (ImportFailure, 422),
    (ConfigError, 400),
]


def problem(status: int, message: str, problems: list[str] | None = None) -> JSONResponse:
    body: dict[str, object] = {"error": message}
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=status)


async def _warmup_error(_: Request, exc: Exception) -> JSONResponse:
    status = next((code for kind, code in STATUS if isinstance(exc, kind)), 400)
    problems = exc.problems if isinstance(exc, PlanError) else None
    return problem(status, str(exc).splitlines()[0] if problems else str(exc), problems)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    response = problem(exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    return response


def _where(location: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in location if part != "body") or "body"


async def _invalid_request(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
    return problem(422, "the request is not valid", found[:50])


async def _too_deep(_: Request, __: Exception) -> JSONResponse:
    return problem(400, "the body is nested too deeply")


async def _unstorable(_: Request, __: Exception) -> JSONResponse:
    # PostgreSQL refuses NUL characters in text, among other values: the input, not us.
    return problem(400, "a value cannot be stored (a NUL character, or a number out of range)")


def install(app: FastAPI) -> None:
    app.add_exception_handler(WarmupError, _warmup_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(DataError, _unstorable)
