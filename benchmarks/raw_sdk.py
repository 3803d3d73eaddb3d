"""The baseline every sending benchmark compares with: the real ``.aio`` SDK in a tight loop,
configured as well as it can be (no per-request environment look-ups, as warmup's own client),
so that a ratio against it stays honest."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from azure.communication.email.aio import EmailClient
from azure.core.credentials import AzureKeyCredential


async def raw_async_sends(
    url: str,
    key: str,
    message: dict[str, Any],
    seconds: float,
    concurrency: int,
    use_env_settings: bool = False,
) -> int:
    """Sends accepted in ``seconds``, ``concurrency`` in flight, each with a new Operation-Id.
    ``use_env_settings=True`` is azure-core's default transport, for comparison."""
    deadline = time.monotonic() + seconds
    sent = 0
    client = EmailClient(
        url, AzureKeyCredential(key), retry_total=0, use_env_settings=use_env_settings
    )
    async with client:

        async def worker() -> None:
            nonlocal sent
            while time.monotonic() < deadline:
                poller = await client.begin_send(
                    message, polling=False, operation_id=str(uuid.uuid4())
                )
                await poller.result()
                sent += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent
