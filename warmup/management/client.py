"""The resource manager client for ops' Azure-side tasks, and its errors in words ops act on.

The credential is the one sending uses when that is Entra ID (``WARMUP_ACS_AUTH``), else
``DefaultAzureCredential``; ``WARMUP_AZURE_ACCESS_TOKEN`` passes a token as it is (a pipeline's
``az account get-access-token``, or the emulator). ``WARMUP_ARM_ENDPOINT`` and
``WARMUP_AZURE_CA_FILE`` point the SDK elsewhere (a sovereign cloud, the emulator).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.identity import CredentialUnavailableError
from azure.mgmt.communication import CommunicationServiceManagementClient

from warmup.errors import ConfigError, NotFoundError
from warmup.sending.credentials import entra_credential
from warmup.settings import Settings, env_name

# The built-in role that covers every call made here.
ROLE = "Communication and Email Service Owner"


@dataclass(frozen=True)
class AcsResources:
    subscription_id: str
    resource_group: str
    email_service: str
    communication_service: str

    @classmethod
    def from_settings(cls, settings: Settings) -> AcsResources:
        fields = (
            "azure_subscription_id",
            "acs_resource_group",
            "acs_email_service",
            "acs_communication_service",
        )
        missing = [env_name(f) for f in fields if not getattr(settings, f)]
        if missing:
            raise ConfigError(
                f"the Azure resources are not named: set {', '.join(missing)} "
                "(the subscription, resource group, Email Service and Communication Service)"
            )
        return cls(*(str(getattr(settings, f)) for f in fields))


class StaticToken:
    """A bearer token given as it is (azure-core's TokenCredential protocol)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    def close(self) -> None:
        return None


def azure_credential(settings: Settings) -> Any:
    token = settings.azure_access_token
    return StaticToken(token.get_secret_value()) if token else entra_credential(settings)


def client_options(settings: Settings) -> dict[str, Any]:
    """Options for an Azure SDK client: a short retry (azure-core honours Retry-After), and
    the extra CA to trust."""
    options: dict[str, Any] = {"retry_total": 3}
    if settings.azure_ca_file is not None:
        options["connection_verify"] = str(settings.azure_ca_file)
    return options


def management_client(settings: Settings) -> CommunicationServiceManagementClient:
    resources = AcsResources.from_settings(settings)
    return CommunicationServiceManagementClient(
        azure_credential(settings),
        resources.subscription_id,
        base_url=settings.arm_endpoint,
        **client_options(settings),
    )


def _arm_message(error: HttpResponseError) -> str:
    found = getattr(error, "error", None)
    message = getattr(found, "message", None) or error.reason or str(error)
    return str(message).strip().splitlines()[0][:300]


@contextlib.contextmanager
def arm_errors(what: str, service: str = "the resource manager") -> Iterator[None]:
    """Azure API failures as :class:`ConfigError` (or NotFoundError) saying what to do."""
    try:
        yield
    except HttpResponseError as exc:  # ClientAuthenticationError included
        status = exc.status_code
        if status == 403:
            raise ConfigError(
                f"{what}: no permission ({_arm_message(exc)}). Give the identity the "
                f"'{ROLE}' role on the resource group."
            ) from None
        if isinstance(exc, CredentialUnavailableError):  # no request was sent
            raise ConfigError(
                f"{what}: no Azure credential is available here: set WARMUP_ACS_AUTH to "
                "service_principal (with WARMUP_AZURE_TENANT_ID, WARMUP_AZURE_CLIENT_ID and "
                "WARMUP_AZURE_CLIENT_SECRET), managed_identity or workload_identity, or sign in "
                "with `az login`"
            ) from None
        if status == 401 or isinstance(exc, ClientAuthenticationError):
            raise ConfigError(
                f"{what}: {service} refused the credential ({_arm_message(exc)})"
            ) from None
        if status == 404:
            raise NotFoundError(f"{what}: {_arm_message(exc)}") from None
        if status == 429:
            response: Any = exc.response
            wait = response.headers.get("Retry-After") if response is not None else None
            later = f"in {wait} s" if wait else "later"
            raise ConfigError(f"{what}: {service} is throttling; try again {later}") from None
        raise ConfigError(f"{what}: {service} answered {status}: {_arm_message(exc)}") from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise ConfigError(f"{what}: cannot reach {service} ({exc})") from None
