"""`warmup plan` as ops run it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]


def warmup(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "warmup", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validate_passes_the_presets() -> None:
    result = warmup("plan", "validate", *map(str, sorted((ROOT / "schedules").glob("*.yaml"))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok") >= 3


def test_validate_rejects_a_broken_plan_naming_field_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: b\nsteps:\n  - {per_hour: 50, per_day: 400}\n  - {per_hour: 40, per_day: 400}\n"
    )
    result = warmup("plan", "validate", str(ROOT / "schedules" / "fast.yaml"), str(broken))
    assert result.returncode == 1
    assert f"{broken}:4: steps[1].per_hour: 40 shrinks" in result.stderr
    assert "1 of 2 plan file(s) invalid" in result.stderr


def test_show_prints_the_table_days_to_target_and_cost() -> None:
    result = warmup("plan", "show", "schedules/acs-default.yaml", "--start", "2026-11-30")
    assert result.returncode == 0, result.stderr
    # Weekdays only, and four holiday blackout dates: 28 calendar days.
    assert "final step reached after 18 healthy sending days (28 calendar days" in result.stdout
    assert "no sending on blackout dates: Thu 2026-12-24, Fri 2026-12-25" in result.stdout
    assert "estimated ACS cost $103.37" in result.stdout
    # Reached on Friday at the earliest; Microsoft's review takes up to 3 business days.
    assert (
        "step 2 is above ACS's default quota (100/hour, 30/minute) and is reached on "
        "Fri 2026-12-04 at the earliest: ask by Tue 2026-12-01" in result.stdout
    )
    assert "for at least 200/hour, 23/minute" in result.stdout  # the step's caps / headroom 0.9


def test_simulate_prints_days_and_writes_the_chart(tmp_path: Path) -> None:
    chart = tmp_path / "sim.png"
    result = warmup(
        "plan",
        "simulate",
        "schedules/acs-default.yaml",
        "--days",
        "30",
        "--start",
        "2026-11-30",
        "--failures",
        "8:1.5%,9:4%,11:0.5%",
        "--chart",
        str(chart),
    )
    assert result.returncode == 0, result.stderr
    for word in ("hold: failure rate", "pause: failure rate", "resume: list cleaned (back 1 step"):
        assert word in result.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_rejects_a_bad_profile() -> None:
    result = warmup("plan", "simulate", "schedules/fast.yaml", "--failures", "day5:4%")
    assert result.returncode == 2
    assert "DAY:RATE" in result.stderr


def test_show_of_a_broken_plan_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "b.yaml"
    broken.write_text("name: b\nsteps: []\n")
    result = warmup("plan", "show", str(broken))
    assert result.returncode == 1
    assert result.stderr.startswith("invalid:")  # one vocabulary: invalid input says so
    assert "Traceback" not in result.stderr
