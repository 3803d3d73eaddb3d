"""The CLI starts without loading what only some commands need (issue 33: 2 s a command)."""

import subprocess
import sys

from warmup.cli import COMMANDS, load_command

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
