"""Builds the ACS ``.aio`` ``EmailClient`` from settings, with the SDK's retries off.

The SDK's own retry would sleep a full Retry-After on a 429 without telling us, so it is off
(``retry_total=0``): :mod:`warmup.sending.retry` decides instead. One client per process is the
intended use; building one is cheap but each holds a connection pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
from azure.communication.email.aio import EmailClient as AsyncEmailClient

from warmup.sending.credentials import (
    ResolvedAuth,
    async_credential,
    resolve_auth,
)
from warmup.settings import Settings


def _client_options(settings: Settings, endpoint: str) -> dict[str, Any]:
    proxy = settings.acs_proxy.get_secret_value() if settings.acs_proxy else None
    return {
        "retry_total": 0,
        "connection_timeout": settings.connect_timeout_seconds,
        "read_timeout": settings.read_timeout_seconds,
        "api_version": settings.acs_api_version,
        **transport_options(endpoint, proxy),
    }


def transport_options(endpoint: str, proxy: str | None = None) -> dict[str, Any]:
    """No environment lookups per request, and the proxy chosen once.

    azure-core's default (``use_env_settings``) opens aiohttp sessions with ``trust_env``,
    and aiohttp then reads ``~/.netrc`` in a thread-pool executor for every request: a quarter
    of a send worker's CPU at full rate (issue 19's profile). Off, the proxy is honoured
    explicitly instead: ``proxy`` (``WARMUP_ACS_PROXY``), else the standard ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` variables when set, unless ``NO_PROXY`` names the ACS host."""
    options: dict[str, Any] = {"use_env_settings": False}
    chosen = proxy or environment_proxy(endpoint)
    if chosen:
        options["proxies"] = {"http": chosen, "https": chosen}
    return options


def environment_proxy(endpoint: str) -> str | None:
    """The proxy the standard variables give for ``endpoint`` (NO_PROXY applied), read once."""
    proxies = requests.utils.get_environ_proxies(endpoint)
    return proxies.get(urlparse(endpoint).scheme or "https")


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


def build_async_client(settings: Settings) -> AsyncAcsClient:
    auth = resolve_auth(settings)
    credential = async_credential(auth, settings)
    sdk = AsyncEmailClient(auth.endpoint, credential, **_client_options(settings, auth.endpoint))
    return AsyncAcsClient(sdk, auth, settings.acs_api_version, credential)
