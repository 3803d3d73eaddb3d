"""The `warmup` command as a user runs it, against `warmup emulator` in another process."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.communication.email import EmailClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

from harness.deployment import EmulatorProcess, free_port
from tests.conftest import EMULATOR_KEY, message_to

pytestmark = pytest.mark.integration
WARMUP = [sys.executable, "-m", "warmup"]


@pytest.fixture
def emulator_process() -> Iterator[str]:
    emulator = EmulatorProcess(EMULATOR_KEY, "--per-minute", "5", "--time-scale", "30")
    yield emulator.url
    emulator.stop()


def run_warmup(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    return subprocess.run(
        [*WARMUP, *args], env={**clean, **env}, capture_output=True, text=True, timeout=90
    )


def test_plain_sdk_script_gets_202_then_429_on_the_sixth_send_in_a_minute() -> None:
    emulator = EmulatorProcess(EMULATOR_KEY, "--per-minute", "5")
    url = emulator.url
    try:
        client = EmailClient(url, AzureKeyCredential(EMULATOR_KEY), retry_total=0)
        for i in range(5):
            poller = client.begin_send(message_to(f"u{i}@example.org"), polling=False)
            assert poller.result()["status"] == "Running"
        with pytest.raises(HttpResponseError) as caught:
            client.begin_send(message_to("u5@example.org"), polling=False)
        assert caught.value.status_code == 429
        assert 1 <= int(caught.value.response.headers["Retry-After"]) <= 60
    finally:
        emulator.stop()


def test_send_test_waits_out_a_429_and_prints_id_and_status(emulator_process: str) -> None:
    client = EmailClient(emulator_process, AzureKeyCredential(EMULATOR_KEY), retry_total=0)
    for i in range(5):  # use up the minute's quota so send-test meets a 429
        client.begin_send(message_to(f"u{i}@example.org"), polling=False)
    env = {
        "WARMUP_ACS_CONNECTION_STRING": f"endpoint={emulator_process}/;accesskey={EMULATOR_KEY}",
        "WARMUP_LOG_LEVEL": "DEBUG",
    }
    result = run_warmup(
        "send-test", "--to", "ops@example.org", "--from", "news@example.com", env=env
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "accepted: message id" in output
    assert "after 2 attempt(s)" in output
    assert "status: Succeeded" in output
    assert "retrying send" in output
    assert "429" in output
    assert EMULATOR_KEY not in output


def test_send_test_with_a_wrong_key_fails_cleanly_without_leaking_it(
    emulator_process: str,
) -> None:
    wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
    env = {
        "WARMUP_ACS_ENDPOINT": emulator_process,
        "WARMUP_ACS_ACCESS_KEY": wrong,
        "WARMUP_LOG_LEVEL": "DEBUG",
    }
    result = run_warmup("send-test", "--to", "a@example.org", "--from", "n@example.com", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "send failed: HTTP 401: Denied" in output
    assert wrong not in output
    assert "Traceback" not in output


def test_bad_setting_names_the_variable_and_exits_2() -> None:
    result = run_warmup(
        "send-test", "--to", "a@example.org", env={"WARMUP_READ_TIMEOUT_SECONDS": "-1"}
    )
    assert result.returncode == 2
    assert "WARMUP_READ_TIMEOUT_SECONDS" in result.stderr


def test_missing_connection_says_what_to_set() -> None:
    result = run_warmup("send-test", "--to", "a@example.org", "--from", "n@example.com", env={})
    assert result.returncode == 2
    assert "WARMUP_ACS_CONNECTION_STRING" in result.stderr


def test_emulator_with_a_key_that_is_not_base64_explains_itself() -> None:
    result = subprocess.run(
        [*WARMUP, "emulator", "--port", str(free_port()), "--access-key", "KEY"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "base64" in result.stderr


def test_env_example_documents_every_setting() -> None:
    from warmup.settings import Settings, env_name

    documented = (Path(__file__).parents[2] / ".env.example").read_text()
    for field in Settings.model_fields:
        assert env_name(field) in documented, env_name(field)
    # Each once: a second line would leave a reader to guess which one wins.
    names = [
        line.split("=", 1)[0] for line in documented.splitlines() if line.startswith("WARMUP_")
    ]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_no_source_cites_a_document_the_repository_does_not_have() -> None:
    root = Path(__file__).parents[2]
    sources = [*root.glob("warmup/**/*.py"), *root.glob("warmup/**/*.yaml"), *root.glob("*.md")]
    assert [str(p.relative_to(root)) for p in sources if "ACS_NOTES" in p.read_text()] == []
