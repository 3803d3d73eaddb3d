"""The CLI's errors: one clear line with the right label, never a traceback or a password; and
``.env.example`` copied to ``.env`` works as it is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def warmup(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    return subprocess.run(
        [sys.executable, "-m", "warmup", *args],
        env={**base, **env, "COLUMNS": "200"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_unreachable_database_is_one_line_naming_where_without_the_password(
    tmp_path: Path,
) -> None:
    url = "postgresql+psycopg://warmup:pw-Sekr1t-9876@127.0.0.1:1/warmup"
    for args in (("lists", "show"), ("domain", "status"), ("db", "upgrade")):
        done = warmup(*args, cwd=tmp_path, WARMUP_DATABASE_URL=url)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert "pw-Sekr1t-9876" not in done.stderr + done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("database unreachable:")
        assert "127.0.0.1" in lines[0]


def test_errors_are_labelled_for_what_they_are(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    missing = warmup("campaign", "status", "-c", "nope", cwd=tmp_path, WARMUP_DATABASE_URL=db)
    assert missing.returncode == 2
    assert missing.stderr.startswith("not found: no campaign 'nope'")
    bad = warmup("plan", "validate", str(tmp_path / "none.yaml"), cwd=tmp_path)
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr


def test_env_example_copied_to_env_works_as_it_is(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    done = warmup("plan", "validate", str(ROOT / "schedules" / "demo.yaml"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_ready_obtains_an_entra_token_and_fails_in_seconds_naming_the_credential(
    tmp_path: Path,
) -> None:
    # Entra ID "unreachable": the authority is a closed port on this machine (no traffic leaves).
    started = time.monotonic()
    done = warmup(
        "ready",
        cwd=tmp_path,
        AZURE_AUTHORITY_HOST="https://127.0.0.1:1",
        WARMUP_DATABASE_URL=f"sqlite:///{tmp_path / 'w.db'}",
        WARMUP_REDIS_URL="redis://127.0.0.1:6379/0",
        WARMUP_ACS_AUTH="service_principal",
        WARMUP_ACS_ENDPOINT="https://example.communication.azure.com",
        WARMUP_AZURE_TENANT_ID="00000000-0000-0000-0000-000000000001",
        WARMUP_AZURE_CLIENT_ID="00000000-0000-0000-0000-000000000002",
        WARMUP_AZURE_CLIENT_SECRET="client-secret-Value-42",
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 1, done.stdout
    assert "acs: the service_principal credential could not get a token for ACS" in done.stderr
    assert "client-secret-Value-42" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_version_is_printed(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = warmup("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"warmup {version('warmup')}"
