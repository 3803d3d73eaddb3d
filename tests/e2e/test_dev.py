"""``warmup dev``: the emulator, Redis, a worker, beat and the API on the user's own store;
another shell joins it through the settings file it writes; SIGTERM stops every process it
started within 5 s."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from harness.deployment import dev_shell, free_port, stop_dev

pytestmark = pytest.mark.integration


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Celery's pool processes included), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_dev_runs_everything_on_the_users_store_and_stops_it_all(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    port = free_port()
    dev = subprocess.Popen(
        [sys.executable, "-m", "warmup", "dev", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert dev.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = dev.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "press Ctrl-C to stop" in line:
                break
        output = "".join(lines)
        assert "press Ctrl-C to stop" in output, output
        store = tmp_path / "data" / "warmup" / "warmup.db"
        assert f"store: sqlite:///{store}" in output
        token = re.search(r"token: (wu_\S+)\)", output)
        assert token is not None, output
        api = f"http://127.0.0.1:{port}"
        assert requests.get(f"{api}/readyz", timeout=5).status_code == 200
        # Another shell: the settings file, then a command on the same store, seen by the API.
        shell = dev_shell(output, env)
        added = subprocess.run(
            [sys.executable, "-m", "warmup", "domain", "add", "mail.example.com", "--plan",
             "acs-default", "--sender", "news@mail.example.com"],
            env=shell, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        domains = requests.get(
            f"{api}/api/domains", headers={"Authorization": f"Bearer {token.group(1)}"}, timeout=5
        )
        assert domains.status_code == 200
        assert "mail.example.com" in domains.text
        started = descendants(dev.pid)
        assert len(started) >= 4  # redis, the API, the worker (and its pool), beat
        dev.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        dev.wait(10)
        assert time.monotonic() - sent < 5, "warmup dev took 5 s or more to stop"
        left = {pid for pid in started if alive(pid)}
        assert left == set(), f"still running after warmup dev stopped: {left}"
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{api}/readyz", timeout=2)
    finally:
        stop_dev(dev)
