"""Issue 4's "done when", as a new user would: a messy CSV, a personalised campaign, preview,
start, pause and export, with the same commands on SQLite and PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


def test_marketing_flow(database_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env.update(
        {
            "WARMUP_DATABASE_URL": database_url,
            "WARMUP_UNSUBSCRIBE_SECRET": "an-unsubscribe-secret-for-tests",
            "WARMUP_PUBLIC_URL": "https://mail.example.com",
            "WARMUP_ACTOR": "marketing@example.com",
            "COLUMNS": "200",
        }
    )

    def warmup(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "warmup", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
        return done.stdout

    (tmp_path / "crm-export.csv").write_bytes(
        "\ufeffFirst Name;E-mail;Score\r\n"
        "Ada;ada@example.org;0.9\r\n"
        "Grace;GRACE@gmail.com;0.95\n"
        "Nobody;nobody-at-example.org;0.1\r\n"
        "Ada;Ada@Example.org;0.2\n".encode()
    )
    (tmp_path / "welcome.html").write_text(
        "<h1>Hello {{ first_name }}</h1><a href='{{ unsubscribe_url }}'>unsubscribe</a>"
    )
    (tmp_path / "welcome.txt").write_text("Hello {{ first_name }}\n{{ unsubscribe_url }}\n")

    warmup(
        "domain",
        "add",
        "mail.example.com",
        "--plan",
        str(ROOT / "schedules" / "acs-default.yaml"),
        "--sender",
        "news@mail.example.com",
    )
    imported = warmup("lists", "import", "crm-export.csv", "--name", "crm")
    assert "2 imported of 4 rows" in imported
    report = (tmp_path / "crm-export.rejected.csv").read_text()
    assert "4,invalid address: An email address must have an @-sign." in report
    assert "5,duplicate of line 2" in report

    warmup(
        "campaign",
        "create",
        "--name",
        "welcome",
        "--list",
        "crm",
        "--from",
        "news@mail.example.com",
        "--subject",
        "Welcome, {{ first_name }}!",
        "--html",
        "welcome.html",
        "--text",
        "welcome.txt",
    )
    preview = warmup("campaign", "preview", "-c", "welcome", "--to", "grace@gmail.com")
    assert "Subject: Welcome, Grace!" in preview
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in preview
    assert "<h1>Hello Grace</h1>" in preview

    assert "2 recipients in the ledger" in warmup("campaign", "start", "-c", "welcome")
    assert "campaign welcome paused" in warmup("campaign", "pause", "-c", "welcome")
    status = warmup("campaign", "status", "-c", "welcome")
    assert "welcome (paused)" in status
    assert "pending" in status
    assert "this campaign over the last 24 h: failure rate 0.00%" in status
    warmup("campaign", "export", "-c", "welcome", "-o", "welcome.csv")
    exported = (tmp_path / "welcome.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in exported[1:]] == ["grace@gmail.com", "ada@example.org"]
