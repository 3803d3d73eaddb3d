"""The plans that ship with warmup are taken by name wherever a plan is (issue 33)."""

from pathlib import Path

import pytest

from tests.cli import cli

pytestmark = pytest.mark.integration


def test_presets_are_listed_shown_validated_and_started_on_by_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'presets.db'}"
    listed = cli(url, "plan", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert {"acs-default", "conservative", "demo", "fast"} <= {
        line.split()[0] for line in listed.stdout.splitlines()
    }
    shown = cli(url, "plan", "show", "fast", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "fast" in shown.stdout
    assert cli(url, "plan", "validate", "acs-default", cwd=tmp_path).returncode == 0
    # From a directory with no schedules/ in it: the preset comes from the package.
    added = cli(
        url, "domain", "add", "mail.example.com", "--plan", "acs-default",
        "--sender", "news@mail.example.com", cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    status = cli(url, "domain", "status", "mail.example.com", cwd=tmp_path)
    assert "acs-default" in status.stdout


def test_a_name_that_is_neither_a_file_nor_a_preset_lists_the_presets(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'presets.db'}"
    shown = cli(url, "plan", "show", "acs-defualt", cwd=tmp_path)
    assert shown.returncode == 2
    assert "no preset of that name" in shown.stderr
    assert "acs-default" in shown.stderr
    added = cli(url, "domain", "add", "x.example.com", "--plan", "acs-defualt", cwd=tmp_path)
    assert added.returncode != 0
    assert "acs-default" in added.stderr


def test_a_plan_file_in_the_working_directory_wins_over_a_preset(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'presets.db'}"
    own = (Path(__file__).parents[2] / "warmup" / "schedules" / "demo.yaml").read_text()
    (tmp_path / "fast").write_text(own.replace("name: demo", "name: mine"))
    shown = cli(url, "plan", "show", "fast", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "mine" in shown.stdout


def test_a_name_already_taken_is_the_users_mistake_not_a_configuration_error(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'presets.db'}"
    add = ("domain", "add", "mail.example.com", "--plan", "demo")
    assert cli(url, *add, cwd=tmp_path).returncode == 0
    again = cli(url, *add, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("invalid: sending domain mail.example.com already exists")
