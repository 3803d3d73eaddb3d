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
