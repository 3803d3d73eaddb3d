"""The CLI starts without loading what only some commands need (issue 33: 2 s a command)."""

import os
import subprocess
import sys
from pathlib import Path

from warmup.cli import COMMANDS, load_command
from warmup.store.database import Database

HEAVY = ("aiohttp", "azure", "celery", "fastapi", "uvicorn", "sqlalchemy", "redis", "aiosmtpd",
         "jinja2", "matplotlib", "opentelemetry", "rich")  # fmt: skip


def test_importing_the_cli_loads_no_sdk_store_or_server() -> None:
    code = f"import sys, warmup.cli\nprint(sorted(h for h in {HEAVY!r} if h in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_version_loads_no_command() -> None:
    code = (
        "import sys\nfrom warmup.cli import app\n"
        "try:\n    app(['--version'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('warmup.commands.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_listed_help_is_each_commands_own() -> None:
    # `warmup --help` shows COMMANDS' lines without importing the commands: they must not drift.
    for name, (_, _, listed) in COMMANDS.items():
        command = load_command(name)
        own = " ".join((command.help or "").split("\n\n")[0].split())
        assert own == listed, name


def test_a_status_command_on_a_current_store_loads_neither_the_azure_sdk_nor_alembic(
    tmp_path: Path,
) -> None:
    """``campaign list`` and the views it prints need the store, not the Azure SDK; a SQLite
    store already at head needs no migration, so Alembic stays unloaded."""
    url = f"sqlite:///{tmp_path / 'warmup.db'}"
    Database.connect(url).dispose()  # migrated once
    code = (
        "import sys\nfrom warmup.cli import app\n"
        "try:\n    app(['campaign', 'list'])\nexcept SystemExit:\n    pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'azure', 'alembic'}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env["WARMUP_DATABASE_URL"] = url
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
