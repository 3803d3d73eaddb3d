import logging

import pytest
from pydantic import SecretStr

from warmup.logs import REDACTED, RedactSecrets, configure_logging, secret_values
from warmup.settings import Settings


def test_filter_removes_every_secret_from_the_formatted_message() -> None:
    redact = RedactSecrets(["c2VjcmV0LWtleQ==", "client-secret-1"])
    record = logging.LogRecord(
        "x", logging.ERROR, "f", 1, "key=%s and %s", ("c2VjcmV0LWtleQ==", "client-secret-1"), None
    )
    assert redact.filter(record)
    assert record.getMessage() == f"key={REDACTED} and {REDACTED}"


def test_secret_values_come_from_every_secret_setting() -> None:
    settings = Settings(
        acs_access_key=SecretStr("access-key-value"),
        azure_client_secret=SecretStr("client-secret-value"),
        database_url=SecretStr("postgresql+psycopg://u:db-password@h/d"),
    )
    assert set(secret_values(settings)) == {
        "access-key-value",
        "client-secret-value",
        "postgresql+psycopg://u:db-password@h/d",
        "db-password",
    }


def test_configured_logging_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(acs_access_key=SecretStr("access-key-value"))
    configure_logging(settings)
    logging.getLogger("warmup.test").warning("oops %s", "access-key-value")
    err = capsys.readouterr().err
    assert "access-key-value" not in err
    assert REDACTED in err


def test_each_webhook_secret_is_redacted_on_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    # uvicorn's access log shows the one secret a call used: GET /webhooks/acs?code=<secret>.
    configure_logging(Settings(webhook_secrets=SecretStr("old-webhook-secret, new-webhook-secret")))
    logging.getLogger("uvicorn.access").info('"POST /webhooks/acs?code=new-webhook-secret" 200')
    err = capsys.readouterr().err
    assert "new-webhook-secret" not in err
    assert f"code={REDACTED}" in err


def test_json_lines_carry_the_fields_and_are_redacted_tracebacks_included(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from warmup.settings import LogFormat

    settings = Settings(acs_access_key=SecretStr("access-key-value"), log_format=LogFormat.JSON)
    configure_logging(settings)
    log = logging.getLogger("warmup.test")
    log.warning("held %s", "gmail", extra={"notification": "provider-hold"})
    try:
        raise RuntimeError("failed with access-key-value")
    except RuntimeError:
        log.exception("a send failed")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["level"] == "WARNING"
    assert first["logger"] == "warmup.test"
    assert first["message"] == "held gmail"
    assert first["notification"] == "provider-hold"
    assert "time" in first
    assert "access-key-value" not in json.dumps(second)
    assert "RuntimeError" in second["exc_info"]
    assert REDACTED in second["exc_info"]


def _filtered(message: str, *args: object) -> str:
    record = logging.LogRecord("x", logging.WARNING, "f", 1, message, args, None)
    assert RedactSecrets([]).filter(record)
    return record.getMessage()


def test_a_secret_parameter_is_redacted_however_its_name_is_percent_encoded() -> None:
    line = _filtered('"GET /webhooks/acs?%63ode=hunter22&x=1 HTTP/1.1" 200')
    assert "hunter22" not in line
    assert f"?%63ode={REDACTED}&x=1" in line
    assert "hunter22" not in _filtered("/u/x?TOKEN=hunter22")
    assert _filtered("/api/lists?name=spring&wait=true") == "/api/lists?name=spring&wait=true"


@pytest.mark.parametrize("forged", ["x\n2026-12-07 INFO warmup: admin logged in", "x\x00y", "x\ry"])
def test_control_characters_from_input_cannot_forge_a_log_line(forged: str) -> None:
    line = _filtered("relay: cannot check user %s", forged)
    assert not {"\n", "\r", "\x00"} & set(line)
    assert line.startswith("relay: cannot check user x")


def test_per_request_and_tick_task_lines_wait_for_debug() -> None:
    def shown(name: str, message: str, level: int = logging.INFO) -> bool:
        target = logging.getLogger(name)
        record = target.makeRecord(name, level, __file__, 1, message, (), None)
        return target.isEnabledFor(level) and all(f.filter(record) for f in target.filters)

    tick = "Task warmup.dispatch[0f1e] succeeded in 0.01s: 2"
    batch = "Task warmup.send_batch[77aa] succeeded in 3.2s: {'accepted': 50}"
    configure_logging(Settings(log_level="INFO"))
    assert not shown("celery.app.trace", tick)
    assert not shown("celery.worker.strategy", "Task warmup.feedback[1] received")
    assert shown("celery.app.trace", batch)  # what changed is still said
    assert shown("celery.app.trace", "Task warmup.dispatch[1] raised", logging.ERROR)
    assert not shown("azure.core.pipeline", "Request URL: ...")
    configure_logging(Settings(log_level="DEBUG"))
    assert shown("celery.app.trace", tick)
    assert shown("azure.core.pipeline", "Request URL: ...")
    configure_logging(Settings(log_level="WARNING"))
