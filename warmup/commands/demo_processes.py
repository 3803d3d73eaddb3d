"""The processes ``warmup demo`` runs in the background: API, Celery worker and beat."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from warmup.errors import ConfigError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    stack: ExitStack, folder: Path, env: dict[str, str], name: str, args: list[str]
) -> subprocess.Popen[bytes]:
    """``python args...`` in the background, logging to ``folder/name.log``, stopped at exit."""
    log = stack.enter_context((folder / f"{name}.log").open("wb"))
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args], env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()

    stack.callback(stop)
    return process


def wait_ready(process: subprocess.Popen[bytes], url: str, folder: Path) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ConfigError(f"the API exited early; see {folder / 'api.log'}")
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise ConfigError(f"the API did not become ready; see {folder / 'api.log'}")


def start_celery(
    stack: ExitStack, folder: Path, env: dict[str, str], workers: int
) -> list[subprocess.Popen[bytes]]:
    celery = ["-m", "celery", "-A", "workers.main"]
    quiet = ["--loglevel", "WARNING"]
    worker = [*celery, "worker", "-Q", "dispatch,send,feedback", "--concurrency", str(workers)]
    return [
        start(
            stack, folder, env, "worker", [*worker, *quiet, "--without-gossip", "--without-mingle"]
        ),
        start(
            stack,
            folder,
            env,
            "beat",
            [*celery, "beat", *quiet, "--schedule", str(folder / "beat-schedule")],
        ),
    ]
