"""Our errors as HTTP answers: one JSON shape, ``{"error": ..., "problems": [...]}``.

The messages are the same the CLI prints; they are built without secrets (see warmup.errors).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
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


def install(app: FastAPI) -> None:
    app.add_exception_handler(WarmupError, _warmup_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
