"""``warmup worker`` and ``warmup beat``: run the Celery worker and scheduler.

They replace this process with the ``celery`` command (``workers.main``), so signals reach
Celery directly: SIGTERM is Celery's warm shutdown (running batches finish; rows they did not
send are given back). ``warmup`` itself never imports Celery.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Annotated

import typer

from warmup.commands.context import command_settings, open_database
from warmup.errors import ConfigError


def _exec_celery(args: list[str]) -> None:
    command_settings()  # fail here, with a clear message, on a bad setting
    celery = shutil.which("celery") or os.path.join(os.path.dirname(sys.executable), "celery")
    if not os.path.exists(celery):
        raise ConfigError("the celery command is not installed (pip install the project)")
    os.execv(celery, [celery, "-A", "workers.main", *args])  # noqa: S606 - no shell, fixed argv


def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Worker processes.")] = os.cpu_count()
    or 1,
    queues: Annotated[str, typer.Option(help="Queues to consume.")] = "dispatch,send,feedback",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run a worker: sends batches, runs the dispatcher tick and housekeeping."""
    _exec_celery(
        [
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            loglevel,
            "--without-gossip",
            "--without-mingle",
        ]
    )


def beat(
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    schedule: Annotated[str, typer.Option(help="Beat's schedule file.")] = ".warmup-beat-schedule",
) -> None:
    """Run the scheduler: a dispatcher tick every second, housekeeping every 5 s."""
    _exec_celery(["beat", "--loglevel", loglevel, "--schedule", schedule])


def ready() -> None:
    """Readiness: exit 0 if the store and Redis answer and ACS is configured, 1 otherwise."""
    import redis

    from warmup.sending.credentials import check_token

    settings = command_settings()
    problems = []
    try:
        open_database(settings).dispose()
    except Exception as exc:
        problems.append(f"store: {type(exc).__name__}")
    if settings.redis_url is None:
        problems.append("WARMUP_REDIS_URL is not set")
    else:
        try:
            redis.Redis.from_url(settings.redis_url.get_secret_value(), socket_timeout=2).ping()
        except redis.RedisError as exc:
            problems.append(f"redis: {type(exc).__name__}")
    try:
        check_token(settings)  # resolves the settings, and under Entra ID obtains a token
    except ConfigError as exc:
        problems.append(f"acs: {exc}")
    if problems:
        typer.echo("not ready: " + "; ".join(problems), err=True)
        raise typer.Exit(1)
    typer.echo("ready")
