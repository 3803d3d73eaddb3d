"""A newcomer's first hour, as the README leads them, on the default store and with no
``WARMUP_*`` setting of their own: the demo; ``warmup dev``; then, in another shell that read
its settings file, a domain on the ``acs-default`` preset, a list, a campaign tested, edited,
scheduled, started and watched to the end, a retry of the soft failures with its message
fixed, and an export to standard output."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from harness.deployment import dev_shell, free_port, stop_dev

pytestmark = pytest.mark.integration

DOMAIN = "mail.example.com"
PEOPLE = (
    "email,first_name,city\n"
    "ada@example.org,Ada,Paris\n"
    "bob@example.net,Bob,\n"
    "softfail+kim@example.com,Kim,Lyon\n"
    "lea@example.org,Léa,Nice\n"
)


def warmup(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "warmup", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, f"warmup {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def status(name: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(
        warmup("campaign", "status", "-c", name, "--json", env=env, cwd=cwd).stdout
    )
    return shown


def until(what: str, check: Any, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def test_from_the_demo_to_a_first_real_campaign(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    base["XDG_DATA_HOME"] = str(tmp_path / "data")
    store = tmp_path / "data" / "warmup" / "warmup.db"
    demo = warmup("demo", "--recipients", "40", "--day-seconds", "3", env=base, cwd=home)
    assert "campaign completed" in demo.stdout
    assert "duplicates at ACS: 0" in demo.stdout
    assert not store.exists()  # the demo kept to a store of its own

    port = free_port()
    dev = subprocess.Popen(
        [sys.executable, "-m", "warmup", "dev", "--port", str(port), "--workers", "1"],
        env=base, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert dev.stdout is not None
        lines = []
        for line in dev.stdout:
            lines.append(line)
            if "press Ctrl-C to stop" in line:
                break
        printed = "".join(lines)
        assert f"store: sqlite:///{store}" in printed, printed
        shell = dev_shell(printed, base)
        _first_campaign(shell, home)
        dev.send_signal(signal.SIGTERM)
        dev.wait(10)
    finally:
        stop_dev(dev)


def _first_campaign(env: dict[str, str], cwd: Path) -> None:
    added = warmup("domain", "add", DOMAIN, "--plan", "acs-default", "--sender",
                   f"news@{DOMAIN}", env=env, cwd=cwd)  # fmt: skip
    assert "acs-default" in added.stdout
    # acs-default sends on weekdays from 07:00 UTC: ops moves the new domain to a plan that
    # sends at any hour, so the walkthrough does not depend on when it runs.
    warmup("domain", "apply-plan", DOMAIN, "fast", "--reason", "history elsewhere",
           env=env, cwd=cwd)  # fmt: skip
    (cwd / "people.csv").write_text(PEOPLE, encoding="utf-8")
    imported = warmup("lists", "import", "people.csv", "--name", "people", env=env, cwd=cwd)
    assert "list people created: 4 imported of 4 rows" in imported.stdout
    shown = warmup("lists", "show", "people", env=env, cwd=cwd)
    assert "city" in shown.stdout
    (cwd / "welcome.txt").write_text(
        "Hi {{ first_name }} from {{ city }}!\nUnsubscribe: {{ unsubscribe_url }}\n"
    )
    warmup("campaign", "create", "--name", "welcome", "--list", "people", "--from",
           f"news@{DOMAIN}", "--subject", "Welcome {{ first_name }}", "--text", "welcome.txt",
           env=env, cwd=cwd)  # fmt: skip
    tried = warmup("campaign", "test", "-c", "welcome", "--to", "me@example.net", env=env, cwd=cwd)
    assert "status: Succeeded" in tried.stdout
    edited = warmup("campaign", "edit", "-c", "welcome", "--subject", "Hello {{ first_name }}",
                    env=env, cwd=cwd)  # fmt: skip
    assert "subject changed" in edited.stdout
    later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    warmup("campaign", "schedule", "-c", "welcome", "--at", later, "--tz", "UTC",
           "--allow-empty-fields", env=env, cwd=cwd)  # fmt: skip
    assert status("welcome", env, cwd)["status"] == "scheduled"
    warmup("campaign", "unschedule", "-c", "welcome", env=env, cwd=cwd)
    warmup("campaign", "start", "-c", "welcome", "--allow-empty-fields", env=env, cwd=cwd)
    until("the campaign completes", lambda: status("welcome", env, cwd)["status"] == "completed")
    until(
        "Kim's soft failure is reported",
        lambda: status("welcome", env, cwd)["by_outcome"].get("soft_failure", 0) == 1,
    )
    done = status("welcome", env, cwd)
    assert done["sent"] == 4
    assert done["by_outcome"].get("delivered") == 3
    retried = warmup("campaign", "retry", "-c", "welcome", "--outcomes", "soft_bounce",
                     env=env, cwd=cwd)  # fmt: skip
    assert "welcome-retry" in retried.stdout
    fixed = warmup("campaign", "edit", "-c", "welcome-retry", "--subject",
                   "Sorry, {{ first_name }}: once more", env=env, cwd=cwd)  # fmt: skip
    assert "subject changed" in fixed.stdout
    assert status("welcome-retry", env, cwd)["list_recipients"] == 1
    exported = warmup("campaign", "export", "-c", "welcome", "-o", "-", env=env, cwd=cwd)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert sorted(row["address"] for row in rows) == [
        "ada@example.org", "bob@example.net", "lea@example.org", "softfail+kim@example.com",
    ]  # fmt: skip
    assert "4 recipients written" in exported.stderr
