import pytest

from warmup.errors import ConfigError
from warmup.settings import AcsAuth, load_settings


def test_reads_warmup_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMUP_ACS_ENDPOINT", "https://res.communication.azure.com/")
    monkeypatch.setenv("WARMUP_ACS_AUTH", "managed_identity")
    monkeypatch.setenv("WARMUP_RETRY_MAX_ATTEMPTS", "3")
    settings = load_settings()
    assert settings.acs_endpoint == "https://res.communication.azure.com"
    assert settings.acs_auth is AcsAuth.MANAGED_IDENTITY
    assert settings.retry_max_attempts == 3


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMUP_RETRY_MAX_ATTEMPTS", "lots")
    monkeypatch.setenv("WARMUP_ACS_ENDPOINT", "ftp://nowhere")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "WARMUP_RETRY_MAX_ATTEMPTS" in message
    assert "WARMUP_ACS_ENDPOINT" in message


def test_rejected_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMUP_ACS_AUTH", "s3cr3t-looking-value")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "WARMUP_ACS_AUTH" in str(caught.value)
    assert "s3cr3t-looking-value" not in str(caught.value)


def test_secrets_are_masked_when_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARMUP_ACS_ACCESS_KEY", "c2VjcmV0LWtleS12YWx1ZQ==")
    monkeypatch.setenv("WARMUP_AZURE_CLIENT_SECRET", "client-secret-value")
    settings = load_settings()
    shown = f"{settings!r} {settings}"
    assert "c2VjcmV0LWtleS12YWx1ZQ==" not in shown
    assert "client-secret-value" not in shown


def test_dotenv_file_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("WARMUP_SENDER_ADDRESS=news@mail.example.com\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().sender_address == "news@mail.example.com"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("WARMUP_WEBHOOK_SECRETS", "CHANGE-ME", "placeholder"),
        ("WARMUP_UNSUBSCRIBE_SECRET", "changeme-changeme-changeme", "placeholder"),
        ("WARMUP_UNSUBSCRIBE_SECRET", "short-Secret1", "at least 16 characters"),
        ("WARMUP_WEBHOOK_SECRETS", "a-long-enough-webhook-secret,tiny", "at least 16 characters"),
    ],
)
def test_guessable_secrets_are_refused_without_echoing_them(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert variable in message
    assert reason in message
    assert "secrets.token_urlsafe" in message
    assert value not in message


def test_strong_secrets_and_a_rotation_pair_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "WARMUP_WEBHOOK_SECRETS", "Zt3-first-webhook-secret, Zt3-next-webhook-secret"
    )
    monkeypatch.setenv("WARMUP_UNSUBSCRIBE_SECRET", "k0" * 12)
    settings = load_settings()
    assert len(settings.webhook_secret_values()) == 2
