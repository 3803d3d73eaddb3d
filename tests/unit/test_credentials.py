import pytest
from azure.core.credentials import AzureKeyCredential
from pydantic import SecretStr

from warmup.errors import ConfigError
from warmup.sending.credentials import (
    parse_connection_string,
    resolve_auth,
    sync_credential,
)
from warmup.settings import AcsAuth, Settings

KEY = "c2VjcmV0LWtleS12YWx1ZS0xMjM0NQ=="


def test_connection_string_keeps_an_http_endpoint() -> None:
    endpoint, key = parse_connection_string(f"endpoint=http://127.0.0.1:7071/;accesskey={KEY}")
    assert endpoint == "http://127.0.0.1:7071"
    assert key == KEY  # the '=' padding of the key survives


def test_connection_string_without_scheme_gets_https() -> None:
    endpoint, _ = parse_connection_string(f"Endpoint=res.communication.azure.com;AccessKey={KEY}")
    assert endpoint == "https://res.communication.azure.com"


def test_bad_connection_string_error_does_not_echo_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_connection_string(f"endpoint=https://x;key={KEY}")
    assert KEY not in str(caught.value)
    assert "WARMUP_ACS_CONNECTION_STRING" in str(caught.value)


def test_auto_prefers_connection_string_then_key_then_identity() -> None:
    cs = SecretStr(f"endpoint=https://a.example;accesskey={KEY}")
    assert resolve_auth(Settings(acs_connection_string=cs)).mode is AcsAuth.CONNECTION_STRING
    keyed = Settings(acs_endpoint="https://a.example", acs_access_key=SecretStr(KEY))
    assert resolve_auth(keyed).mode is AcsAuth.KEY
    assert resolve_auth(Settings(acs_endpoint="https://a.example")).mode is AcsAuth.DEFAULT


def test_nothing_configured_says_what_to_set() -> None:
    with pytest.raises(ConfigError, match="WARMUP_ACS_CONNECTION_STRING"):
        resolve_auth(Settings())


@pytest.mark.parametrize(
    ("mode", "missing"),
    [
        (AcsAuth.KEY, "WARMUP_ACS_ACCESS_KEY"),
        (AcsAuth.SERVICE_PRINCIPAL, "WARMUP_AZURE_TENANT_ID"),
        (AcsAuth.WORKLOAD_IDENTITY, "WARMUP_AZURE_TENANT_ID"),
    ],
)
def test_each_mode_names_its_missing_variable(mode: AcsAuth, missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        resolve_auth(Settings(acs_auth=mode, acs_endpoint="https://a.example"))


def test_resolved_auth_repr_hides_the_key() -> None:
    auth = resolve_auth(Settings(acs_endpoint="https://a.example", acs_access_key=SecretStr(KEY)))
    assert KEY not in repr(auth)
    assert isinstance(sync_credential(auth, Settings()), AzureKeyCredential)


def test_bearer_over_http_needs_enforce_https_off_and_keys_do_not() -> None:
    token_local = resolve_auth(
        Settings(acs_auth=AcsAuth.DEFAULT, acs_endpoint="http://127.0.0.1:1")
    )
    assert token_local.call_options == {"enforce_https": False}
    token_cloud = resolve_auth(Settings(acs_auth=AcsAuth.DEFAULT, acs_endpoint="https://a.example"))
    assert token_cloud.call_options == {}
    keyed = resolve_auth(Settings(acs_endpoint="http://127.0.0.1:1", acs_access_key=SecretStr(KEY)))
    assert keyed.call_options == {}


def test_service_principal_builds_a_client_secret_credential() -> None:
    from azure.identity import ClientSecretCredential

    settings = Settings(
        acs_auth=AcsAuth.SERVICE_PRINCIPAL,
        acs_endpoint="https://a.example",
        azure_tenant_id="00000000-0000-0000-0000-000000000001",
        azure_client_id="00000000-0000-0000-0000-000000000002",
        azure_client_secret=SecretStr("sp-secret-value"),
    )
    credential = sync_credential(resolve_auth(settings), settings)
    assert isinstance(credential, ClientSecretCredential)
