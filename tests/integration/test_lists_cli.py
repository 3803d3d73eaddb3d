import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import cli

pytestmark = pytest.mark.integration


def test_import_prints_counts_and_writes_the_report(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "people.csv"
    source.write_text("email,first_name\nada@example.org,Ada\nbroken,B\nada@example.org,Dup\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")},
        "WARMUP_DATABASE_URL": database_url,
    }
    done = subprocess.run(
        [sys.executable, "-m", "warmup", "lists", "import", str(source), "--name", "people"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "list people created: 1 imported of 3 rows" in done.stdout
    assert (
        "rejected 2: 1 invalid, 1 duplicates, 0 suppressed; report: people.rejected.csv"
        in done.stdout
    )
    assert (tmp_path / "people.rejected.csv").read_text().count("\n") == 3
    shown = subprocess.run(
        [sys.executable, "-m", "warmup", "lists", "show"],
        env={**env, "COLUMNS": "150"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "people" in shown.stdout
    assert "first_name" in shown.stdout


def test_a_failed_import_is_one_clear_line(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "none.csv"
    source.write_text("name\nAda\n")
    env = {**os.environ, "WARMUP_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "warmup", "lists", "import", str(source), "--name", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "invalid: no email column: the header has name" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_clean_import_leaves_no_empty_report(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "clean.csv"
    source.write_text("email\nada@example.org\n")
    stale = tmp_path / "clean.rejected.csv"
    stale.write_text("line,reason,email\n2,invalid,from an earlier import\n")
    done = cli(database_url, "lists", "import", str(source), "--name", "clean", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "rejected 0: 0 invalid, 0 duplicates, 0 suppressed\n" in done.stdout
    assert "report:" not in done.stdout
    assert not stale.exists()  # it described another import's rows


def test_tables_into_a_pipe_are_whole(database_url: str, tmp_path: Path) -> None:
    """Piped (no terminal, no COLUMNS), a table shows every name and field in full on one line
    each: rich would otherwise assume 80 columns and cut them."""
    name = "spring-newsletter-for-the-returning-customers-of-the-northern-region-2027"
    fields = [f"personalisation_field_number_{i}" for i in range(4)]
    source = tmp_path / "people.csv"
    source.write_text("email," + ",".join(fields) + "\nada@example.org,a,b,c,d\n")
    unset = ("COLUMNS", "LINES")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_") and k not in unset}
    env["WARMUP_DATABASE_URL"] = database_url
    assert (
        cli(database_url, "lists", "import", str(source), "--name", name, cwd=tmp_path).returncode
        == 0
    )
    shown = subprocess.run(
        [sys.executable, "-m", "warmup", "lists", "show"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if name in line)
    assert all(field in row for field in fields), shown.stdout
    assert "…" not in shown.stdout
    # A long title over narrow columns stays on one line.
    plan = subprocess.run(
        [sys.executable, "-m", "warmup", "plan", "show", "acs-default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    title = plan.stdout.splitlines()[0]
    assert title.startswith("acs-default:"), plan.stdout
    assert title.rstrip().endswith("UTC."), plan.stdout


def test_an_update_import_changes_members_fields_and_says_how_many(
    database_url: str, tmp_path: Path
) -> None:
    first = tmp_path / "first.csv"
    first.write_text("email,city\nada@example.org,Paris\nbob@example.org,Lyon\neve@example.org,\n")
    assert (
        cli(
            database_url, "lists", "import", str(first), "--name", "people", cwd=tmp_path
        ).returncode
        == 0
    )
    second = tmp_path / "second.csv"
    # Ada moves, Bob stays, Eve gains a city, Zoe is new, Ada's second row is a duplicate.
    second.write_text(
        "email,city\nADA@example.org,Nice\nbob@example.org,Lyon\neve@example.org,Metz\n"
        "zoe@example.org,Brest\nada@example.org,Caen\n"
    )
    done = cli(
        database_url, "lists", "import", str(second), "--name", "people", "--update", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "list people appended to: 1 imported, 2 updated of 5 rows" in done.stdout
    assert "1 duplicates" in done.stdout
    shown = cli(database_url, "lists", "show", "people", "--json")
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    cities = {row["address"]: row.get("city") for row in detail["sample"]}
    assert cities == {
        "ada@example.org": "Nice",
        "bob@example.org": "Lyon",
        "eve@example.org": "Metz",
        "zoe@example.org": "Brest",
    }
    assert detail["recipients"] == 4
    assert detail["fill"] == [{"field": "city", "filled": 4, "empty": 0}]  # Eve's counts now
    # Without --update the members' rows are refused, as before.
    again = cli(database_url, "lists", "import", str(second), "--name", "people", cwd=tmp_path)
    assert "list people appended to: 0 imported of 5 rows" in again.stdout
