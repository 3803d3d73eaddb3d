"""The baseline every sending benchmark compares with: the real ``.aio`` SDK in a tight loop,
configured as well as it can be (no per-request environment look-ups, as warmup's own client),
so that a ratio against it stays honest."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
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


def _one_process(
    url: str, key: str, message: dict[str, Any], seconds: float, concurrency: int, start_at: float
) -> int:
    time.sleep(max(0.0, start_at - time.time()))  # every process starts sending together
    return asyncio.run(raw_async_sends(url, key, message, seconds, concurrency))


def raw_sends_per_second(
    url: str,
    key: str,
    message: dict[str, Any],
    seconds: float,
    processes: int,
    concurrency: int,
) -> float:
    """The same loop in ``processes`` processes at once, ``concurrency`` in flight each: what
    the SDK alone reaches with as many processes (and cores) as a deployment gives its
    workers, not only what one event loop reaches."""
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # time enough to spawn and import
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        runs = [
            pool.submit(_one_process, url, key, message, seconds, concurrency, start_at)
            for _ in range(processes)
        ]
        sent = sum(run.result() for run in runs)
    return sent / seconds
