"""Which endpoint and credential the ACS client uses, resolved from settings.

Resolution is split from construction: :func:`resolve_auth` is pure and says what will be used
(or which variable is missing), then :func:`sync_credential` / :func:`async_credential` build the
azure-core credential objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.credentials import AzureKeyCredential

from warmup.errors import ConfigError
from warmup.settings import AcsAuth, Settings, env_name

TOKEN_MODES = frozenset(
    {
        AcsAuth.DEFAULT,
        AcsAuth.MANAGED_IDENTITY,
        AcsAuth.SERVICE_PRINCIPAL,
        AcsAuth.WORKLOAD_IDENTITY,
    }
)


@dataclass(frozen=True)
class ResolvedAuth:
    """What the client will use. ``repr`` omits the key so it is safe to log."""

    mode: AcsAuth
    endpoint: str
    access_key: str | None = None

    def __repr__(self) -> str:
        return f"ResolvedAuth(mode={self.mode.value!r}, endpoint={self.endpoint!r})"

    @property
    def uses_token(self) -> bool:
        return self.mode in TOKEN_MODES

    @property
    def call_options(self) -> dict[str, Any]:
        """Per-call options: bearer tokens over plain http are refused unless told otherwise."""
        if self.uses_token and self.endpoint.startswith("http://"):
            return {"enforce_https": False}
        return {}


def parse_connection_string(value: str) -> tuple[str, str]:
    """``endpoint=...;accesskey=...`` into (endpoint, key), keeping an ``http://`` scheme.

    The SDK's own parser forces https, which breaks a local emulator. Errors never echo the
    string: it holds the key.
    """
    parts: dict[str, str] = {}
    for segment in value.split(";"):
        name, sep, content = segment.strip().partition("=")
        if sep:
            parts[name.strip().lower()] = content.strip()
    endpoint, key = parts.get("endpoint"), parts.get("accesskey")
    if not endpoint or not key:
        raise ConfigError(
            f"{env_name('acs_connection_string')}: expected 'endpoint=https://<resource>;"
            "accesskey=<key>' (the value is not shown because it contains the key)"
        )
    if not endpoint.startswith(("https://", "http://")):
        endpoint = "https://" + endpoint
    return endpoint.rstrip("/"), key


def _require(settings: Settings, field: str, mode: AcsAuth) -> Any:
    value = getattr(settings, field)
    if value is None:
        raise ConfigError(f"{env_name(field)} is required when {env_name('acs_auth')}={mode.value}")
    return value


def resolve_auth(settings: Settings) -> ResolvedAuth:
    mode = settings.acs_auth
    if mode is AcsAuth.AUTO:
        if settings.acs_connection_string is not None:
            mode = AcsAuth.CONNECTION_STRING
        elif settings.acs_access_key is not None:
            mode = AcsAuth.KEY
        elif settings.acs_endpoint is not None:
            mode = AcsAuth.DEFAULT
        else:
            raise ConfigError(
                f"no ACS connection configured: set {env_name('acs_connection_string')}, or "
                f"{env_name('acs_endpoint')} with {env_name('acs_access_key')} or an Entra ID "
                f"identity ({env_name('acs_auth')}=default|managed_identity|service_principal|"
                "workload_identity)"
            )
    if mode is AcsAuth.CONNECTION_STRING:
        secret = _require(settings, "acs_connection_string", mode)
        endpoint, key = parse_connection_string(secret.get_secret_value())
        return ResolvedAuth(mode, endpoint, key)
    endpoint = _require(settings, "acs_endpoint", mode)
    if mode is AcsAuth.KEY:
        return ResolvedAuth(
            mode, endpoint, _require(settings, "acs_access_key", mode).get_secret_value()
        )
    _require_identity(settings, mode)
    return ResolvedAuth(mode, endpoint)


# The settings an Entra ID mode cannot do without (the others find theirs on the host).
_IDENTITY_NEEDS = {
    AcsAuth.SERVICE_PRINCIPAL: ("azure_tenant_id", "azure_client_id", "azure_client_secret"),
    AcsAuth.WORKLOAD_IDENTITY: ("azure_tenant_id", "azure_client_id", "azure_federated_token_file"),
}


def _require_identity(settings: Settings, mode: AcsAuth) -> None:
    """A :class:`ConfigError` naming the first setting ``mode`` needs and lacks."""
    for field in _IDENTITY_NEEDS.get(mode, ()):
        _require(settings, field, mode)


def sync_credential(auth: ResolvedAuth, settings: Settings) -> Any:
    """An ``AzureKeyCredential`` or an azure-identity ``TokenCredential``."""
    if auth.access_key is not None:
        return AzureKeyCredential(auth.access_key)
    from azure import identity  # imported here: only Entra ID deployments pay for it

    return _token_credential(identity, auth, settings)


def async_credential(auth: ResolvedAuth, settings: Settings) -> Any:
    if auth.access_key is not None:
        return AzureKeyCredential(auth.access_key)
    from azure.identity import aio as identity_aio

    return _token_credential(identity_aio, auth, settings)


# Entra ID unreachable or refusing should fail in seconds with the credential's name, not after
# azure-identity's default of several retries with backoff (over a minute).
CREDENTIAL_OPTIONS: dict[str, Any] = {"retry_total": 1, "connection_timeout": 5, "read_timeout": 10}
ACS_SCOPE = "https://communication.azure.com//.default"


def _token_credential(module: Any, auth: ResolvedAuth, settings: Settings) -> Any:
    secret = settings.azure_client_secret
    options = CREDENTIAL_OPTIONS
    if auth.mode is AcsAuth.MANAGED_IDENTITY:
        return module.ManagedIdentityCredential(client_id=settings.azure_client_id, **options)
    if auth.mode is AcsAuth.SERVICE_PRINCIPAL:
        assert secret is not None  # checked by resolve_auth
        return module.ClientSecretCredential(
            settings.azure_tenant_id, settings.azure_client_id, secret.get_secret_value(), **options
        )
    if auth.mode is AcsAuth.WORKLOAD_IDENTITY:
        return module.WorkloadIdentityCredential(
            tenant_id=settings.azure_tenant_id,
            client_id=settings.azure_client_id,
            token_file_path=str(settings.azure_federated_token_file),
            **options,
        )
    return module.DefaultAzureCredential(
        managed_identity_client_id=settings.azure_client_id, **options
    )


def entra_credential(settings: Settings) -> Any:
    """A sync azure-identity credential for the resource manager: the Entra ID mode of
    ``WARMUP_ACS_AUTH`` when it names one, else ``DefaultAzureCredential`` (a key authenticates
    to ACS's data plane only)."""
    from azure import identity

    mode = settings.acs_auth if settings.acs_auth in TOKEN_MODES else AcsAuth.DEFAULT
    _require_identity(settings, mode)  # a clear line, not an assertion or azure-identity's error
    return _token_credential(identity, ResolvedAuth(mode, settings.arm_endpoint), settings)


def check_token(settings: Settings) -> None:
    """Obtain an ACS token with the configured Entra ID credential (a no-op for key modes), or
    raise :class:`ConfigError` naming the credential and why, without any secret."""
    auth = resolve_auth(settings)
    if not auth.uses_token:
        return
    credential = sync_credential(auth, settings)
    try:
        credential.get_token(ACS_SCOPE)
    except Exception as exc:  # azure-identity raises several kinds; all mean "no token"
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise ConfigError(
            f"the {auth.mode.value} credential could not get a token for ACS "
            f"({type(exc).__name__}{': ' + reason if reason else ''})"
        ) from None
    finally:
        close = getattr(credential, "close", None)
        if callable(close):
            close()
