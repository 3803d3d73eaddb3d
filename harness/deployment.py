"""Real processes for deployment tests: a Redis server of the test's own, Celery worker and beat."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import requests

from harness.services import EMULATOR_KEY

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What worker and beat processes of a test deployment sign unsubscribe links with.
UNSUBSCRIBE_SECRET = "deployment-test-secret"


def service_environment(
    database_url: str, redis_url: str, emulator_url: str, **extra: str
) -> dict[str, str]:
    """The environment of worker and beat processes pointed at a test deployment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env.update(
        {
            "WARMUP_DATABASE_URL": database_url,
            "WARMUP_REDIS_URL": redis_url,
            "WARMUP_ACS_AUTH": "key",
            "WARMUP_ACS_ENDPOINT": emulator_url,
            "WARMUP_ACS_ACCESS_KEY": EMULATOR_KEY,
            "WARMUP_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
            **extra,
        }
    )
    return env


class EmulatorProcess:
    """``warmup emulator`` in a process of its own, on a free port of 127.0.0.1."""

    def __init__(self, access_key: str, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "warmup",
                "emulator",
                "--port",
                str(self.port),
                "--access-key",
                access_key,
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/_emulator/health", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        self.process.kill()
        output = self.process.communicate()[0].decode(errors="replace")
        raise RuntimeError(f"emulator did not start: {output}")

    def stats(self) -> dict[str, Any]:
        return dict(requests.get(self.url + "/_emulator/stats", timeout=10).json())

    def reset(self) -> None:
        requests.post(self.url + "/_emulator/reset", timeout=10)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 that a test may kill and restart."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        """Kill it (every queued task is lost: it keeps nothing on disk) and start it again."""
        self.stop()
        self.start()


class Celery:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.celery = shutil.which("celery") or os.path.join(
            os.path.dirname(sys.executable), "celery"
        )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            [self.celery, "-A", "workers.main", *args],
            # Each process its own heartbeat file, as each pod has its own /tmp.
            env={**self.env, "WARMUP_HEARTBEAT_FILE": str(self.heartbeat(name))},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def heartbeat(self, name: str) -> Path:
        return self.folder / f"{name}.heartbeat"

    def worker(self, name: str = "worker", concurrency: int = 2) -> subprocess.Popen[bytes]:
        return self.start(
            name,
            "worker",
            "-Q",
            "dispatch,send,feedback",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"{name}@%h",
        )

    def beat(self) -> subprocess.Popen[bytes]:
        return self.start(
            "beat", "beat", "--loglevel", "INFO", "--schedule", str(self.folder / "beat-schedule")
        )

    def children(self, name: str) -> list[int]:
        """Pool processes of a worker (the ones that run batches)."""
        out = subprocess.run(
            ["pgrep", "-P", str(self.processes[name].pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in out.stdout.split()]

    def kill_a_child(self, name: str, wait: float = 5.0) -> bool:
        """SIGKILL one pool process of a worker (waiting for Celery to have one running)."""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            children = self.children(name)
            if children:
                os.kill(children[0], signal.SIGKILL)
                return True
            time.sleep(0.05)
        return False

    def kill_worker(self, name: str) -> None:
        """SIGKILL a whole worker, pool and all: nothing of it gets to finish anything."""
        for child in self.children(name):
            os.kill(child, signal.SIGKILL)
        process = self.processes[name]
        process.kill()
        process.wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()

    def logs(self) -> str:
        return "\n".join(
            (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]
            for name in self.processes
        )


SECRET_SETTINGS = (
    "WARMUP_ACS_ACCESS_KEY",
    "WARMUP_ACS_CONNECTION_STRING",
    "WARMUP_UNSUBSCRIBE_SECRET",
    "WARMUP_WEBHOOK_SECRETS",
    "WARMUP_AZURE_CLIENT_SECRET",
)


@contextmanager
def running_celery(env: dict[str, str], folder: Path) -> Iterator[Celery]:
    """Celery processes for a test; when they stop, no line any of them logged (tracebacks
    included) may hold a configured secret."""
    celery = Celery(env, folder)
    try:
        yield celery
    finally:
        celery.stop()
    secrets = [
        part.strip()
        for name in SECRET_SETTINGS
        for part in env.get(name, "").split(",")
        if len(part.strip()) >= 6
    ]
    for name in celery.processes:
        log = (folder / f"{name}.log").read_text(errors="replace")
        for secret in secrets:
            assert secret not in log, f"{name}.log holds the value of a secret setting"


def dev_shell(printed: str, base: dict[str, str]) -> dict[str, str]:
    """The environment of "another shell" after ``warmup dev`` printed ``printed``: ``base``
    plus the settings file it names (``set -a; . FILE; set +a``)."""
    found = re.search(r"set -a; \. (\S+); set \+a", printed)
    assert found is not None, printed
    shell = dict(base)
    for entry in Path(found.group(1)).read_text().splitlines():
        name, _, value = entry.partition("=")
        shell[name] = value.strip("'")
    return shell


def stop_dev(dev: subprocess.Popen[str]) -> None:
    """End a ``warmup dev`` a test started, whatever happened: SIGTERM first, so that it
    stops its own children (a SIGKILL would leave them running), SIGKILL if it hangs."""
    if dev.poll() is not None:
        return
    dev.send_signal(signal.SIGTERM)
    try:
        dev.wait(15)
    except subprocess.TimeoutExpired:
        dev.kill()
        dev.wait()
