"""`warmup domain` as ops run it, against SQLite and PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from warmup.store.database import head_revision

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env.update(
        {"WARMUP_DATABASE_URL": database_url, "WARMUP_ACTOR": "ops@example.com", "COLUMNS": "220"}
    )
    return subprocess.run(
        [sys.executable, "-m", "warmup", "domain", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_ops_walk_a_domain_through_its_life(database_url: str) -> None:
    ok = run(
        database_url,
        "add",
        "mail.example.com",
        "--plan",
        "schedules/acs-default.yaml",
        "--sender",
        "news@mail.example.com",
    )
    assert ok.returncode == 0, ok.stderr
    assert "warming up on plan acs-default, step 0 (5/min, 50/hour, 400/day)" in ok.stdout

    assert (
        run(database_url, "hold", "mail.example.com", "-r", "checking a complaint").returncode == 0
    )
    again = run(database_url, "hold", "mail.example.com", "-r", "again")
    assert again.returncode == 1
    assert "already holding (checking a complaint)" in again.stderr

    assert run(database_url, "release", "mail.example.com").returncode == 0
    assert run(database_url, "pause", "mail.example.com", "-r", "spam trap hit").returncode == 0
    assert run(database_url, "set-step", "mail.example.com", "3", "-r", "known").returncode == 0
    resumed = run(database_url, "resume", "mail.example.com", "-r", "list cleaned")
    assert "paused→ramping, step 3→2: list cleaned (back 1 step to step 2)" in resumed.stdout

    switched = run(
        database_url,
        "apply-plan",
        "mail.example.com",
        "schedules/conservative.yaml",
        "-r",
        "slower",
    )
    assert "plan acs-default step 2 → plan conservative step 4" in switched.stdout
    quota = run(
        database_url, "set-quota", "mail.example.com", "--per-minute", "600", "--per-hour", "20000"
    )
    assert quota.returncode == 0

    status = run(database_url, "status", "mail.example.com")
    assert status.returncode == 0, status.stderr
    for text in ("conservative", "4/14", "ramping", "slower", "ACS quota 600/min, 20,000/hour"):
        assert text in status.stdout
    audit = run(database_url, "audit", "mail.example.com")
    actions = [
        "set-quota",
        "apply-plan",
        "resume",
        "set-step",
        "pause",
        "release",
        "hold",
        "create",
    ]
    positions = [audit.stdout.index(f" {a} ") for a in actions]
    assert positions == sorted(positions)  # newest first
    assert audit.stdout.count("ops@example.com") == len(actions)


def test_unknown_domain_and_bad_step_are_clear_errors(database_url: str) -> None:
    missing = run(database_url, "status", "nope.example.com")
    assert missing.returncode == 2
    assert "no sending domain 'nope.example.com'" in missing.stderr
    run(database_url, "add", "mail.example.com", "--plan", "schedules/fast.yaml")
    bad = run(database_url, "set-step", "mail.example.com", "42", "-r", "x")
    assert bad.returncode == 1
    assert "step 42 is not in plan fast (0..8)" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_status_with_no_domains_says_how_to_add_one(database_url: str) -> None:
    result = run(database_url, "status")
    assert "warmup domain add" in result.stdout


def test_db_upgrade_and_current(empty_database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env["WARMUP_DATABASE_URL"] = empty_database_url

    def db(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "warmup", "db", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert db("current") == "empty (run: warmup db upgrade)"
    head = head_revision()
    assert head == "0031"  # the newest migration (engagement credited when its send is known)
    assert db("upgrade") == f"schema at {head} (was empty)"
    assert db("upgrade") == f"schema at {head} (up to date)"
    assert db("current") == head


def test_ready_checks_store_redis_and_acs(database_url: str) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    ok_env = {
        **base,
        "WARMUP_DATABASE_URL": database_url,
        "WARMUP_REDIS_URL": "redis://127.0.0.1:6379/0",
        "WARMUP_ACS_CONNECTION_STRING": "endpoint=http://127.0.0.1:7071/;accesskey=a2V5",
    }
    ready = subprocess.run(
        [sys.executable, "-m", "warmup", "ready"],
        env=ok_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.strip() == "ready"
    bad_env = {**ok_env, "WARMUP_REDIS_URL": "redis://127.0.0.1:1/0"}
    del bad_env["WARMUP_ACS_CONNECTION_STRING"]
    not_ready = subprocess.run(
        [sys.executable, "-m", "warmup", "ready"],
        env=bad_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not_ready.returncode == 1
    assert "redis: ConnectionError" in not_ready.stderr
    assert "acs: no ACS connection configured" in not_ready.stderr
