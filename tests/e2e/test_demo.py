import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


@pytest.mark.timeout(300)
def test_demo_runs_a_campaign_end_to_end_with_no_services() -> None:
    """The README's first command: embedded Redis, SQLite, emulator, Celery worker and beat."""
    result = subprocess.run(
        [sys.executable, "-m", "warmup", "demo", "--recipients", "400", "--day-seconds", "6"],
        capture_output=True,
        text=True,
        timeout=280,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "campaign completed" in output
    # Scheduled, started by beat's reconcile tick (every second) within one tick of its time.
    late = float(output.split("started by the schedule ")[1].split(" s after its time")[0])
    assert 0 <= late <= 1.5, output
    assert "400 accepted by ACS" in output
    assert "counts add up: yes" in output
    assert "duplicates at ACS: 0" in output
    # The API ran beside the workers: every accepted message's report came through its webhook.
    assert "dashboard: http://127.0.0.1:" in output
    assert "delivery reports through the webhook: 400 of 400" in output
    assert "step(s) reached" in output
    assert "ramp: 0 step(s)" not in output
