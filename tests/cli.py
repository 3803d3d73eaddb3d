"""Run the ``warmup`` CLI as a user would: a subprocess against one database, no other
``WARMUP_*`` settings from the environment, and a wide terminal so tables do not wrap."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from warmup.store.database import Database


def cli(
    database_url: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")},
        "WARMUP_DATABASE_URL": database_url,
        "COLUMNS": "250",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "warmup", *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def url_of(database: Database) -> str:
    """The URL of an open database, password included, for a CLI subprocess."""
    return str(database.engine.url.render_as_string(hide_password=False))
