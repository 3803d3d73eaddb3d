import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_runs_end_to_end_with_no_services() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "warmup", "demo"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8 accepted" in result.stdout
    assert "Succeeded" in result.stdout
    assert "Failed" in result.stdout
    assert "busiest emulated minute 5/5" in result.stdout
