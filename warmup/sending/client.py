"""Builds the ACS ``EmailClient`` (sync or ``.aio``) from settings, with the SDK's retries off.

The SDK's own retry would sleep a full Retry-After on a 429 without telling us, so it is off
(``retry_total=0``): :mod:`warmup.sending.retry` decides instead. One client per process is the
intended use; building one is cheap but each holds a connection pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.communication.email import EmailClient
from azure.communication.email.aio import EmailClient as AsyncEmailClient

from warmup.sending.credentials import (
    ResolvedAuth,
    async_credential,
    resolve_auth,
    sync_credential,
)
from warmup.settings import Settings


def _client_options(settings: Settings) -> dict[str, Any]:
    return {
        "retry_total": 0,
        "connection_timeout": settings.connect_timeout_seconds,
        "read_timeout": settings.read_timeout_seconds,
        "api_version": settings.acs_api_version,
    }


@dataclass
class AcsClient:
    """The SDK client plus the options every call through it needs."""

    sdk: EmailClient
    auth: ResolvedAuth
    api_version: str

    @property
    def call_options(self) -> dict[str, Any]:
        return self.auth.call_options

    def close(self) -> None:
        self.sdk.close()


@dataclass
class AsyncAcsClient:
    sdk: AsyncEmailClient
    auth: ResolvedAuth
    api_version: str
    credential: Any

    @property
    def call_options(self) -> dict[str, Any]:
        return self.auth.call_options

    async def close(self) -> None:
        await self.sdk.close()
        close = getattr(self.credential, "close", None)
        if close is not None:  # azure-identity aio credentials hold their own session
            await close()


def build_client(settings: Settings) -> AcsClient:
    auth = resolve_auth(settings)
    sdk = EmailClient(auth.endpoint, sync_credential(auth, settings), **_client_options(settings))
    return AcsClient(sdk, auth, settings.acs_api_version)


def build_async_client(settings: Settings) -> AsyncAcsClient:
    auth = resolve_auth(settings)
    credential = async_credential(auth, settings)
    sdk = AsyncEmailClient(auth.endpoint, credential, **_client_options(settings))
    return AsyncAcsClient(sdk, auth, settings.acs_api_version, credential)
