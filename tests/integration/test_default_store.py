"""With no settings, every command uses one store per user (in the user's data directory),
wherever it is run; WARMUP_HOME moves it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warmup", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_commands_in_different_folders_share_the_users_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env["XDG_DATA_HOME"] = str(data)
    here, there = tmp_path / "here", tmp_path / "there"
    here.mkdir()
    there.mkdir()
    (here / "people.csv").write_text("email\nada@example.org\n")
    imported = run("lists", "import", "people.csv", "--name", "people", cwd=here, env=env)
    assert imported.returncode == 0, imported.stderr
    shown = run("lists", "show", "--json", cwd=there, env=env)
    assert shown.returncode == 0, shown.stderr
    assert '"name": "people"' in shown.stdout
    assert (data / "warmup" / "warmup.db").is_file()
    assert not (here / "warmup.db").exists()
    # WARMUP_HOME moves it: a store of its own, without the list.
    moved = run("lists", "show", "--json", cwd=there, env={**env, "WARMUP_HOME": str(tmp_path)})
    assert moved.returncode == 0, moved.stderr
    assert "people" not in moved.stdout
    assert (tmp_path / "warmup.db").is_file()
