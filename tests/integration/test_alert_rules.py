"""The alert rules fire when they should and stay quiet when they should not: recorded series
(deploy/prometheus/alerts.test.yaml) fed to the rules by Prometheus's own evaluator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is missing: `make promtool` (Debian: apt-get install -y prometheus)")
    return found


def run_promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_rules_are_valid_promql() -> None:
    done = run_promtool("check", "rules", "alerts.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_scrape_config_is_valid() -> None:
    done = run_promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_silence_alert_fires_when_it_should_and_only_then() -> None:
    done = run_promtool("test", "rules", "alerts.test.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_rule_fails_its_test(tmp_path: Path) -> None:
    # Without its window condition, a domain outside its sending hours would page at night.
    rules = (PROMETHEUS / "alerts.yaml").read_text(encoding="utf-8")
    condition = "          and on (domain) warmup_domain_in_window == 1\n"
    assert condition in rules
    (tmp_path / "alerts.yaml").write_text(rules.replace(condition, ""), encoding="utf-8")
    shutil.copy(PROMETHEUS / "alerts.test.yaml", tmp_path)
    done = run_promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert done.returncode != 0
    assert 'domain="d.example"' in done.stdout + done.stderr
