"""How many sends per second the emulator answers at zero latency.

Runs ``warmup emulator`` in its own process (as in a real test or benchmark) and drives it for
a fixed time with:
  1. the real ``azure.communication.email.aio`` SDK (HMAC-signed), ``--concurrency`` in flight,
     configured as warmup's client is (``use_env_settings=False``: no per-request ~/.netrc
     look-up), then with azure-core's default transport for comparison;
  2. the sync SDK from a thread pool;
  3. a raw aiohttp client that signs requests itself: the emulator's ceiling without SDK cost.
Each figure is checked against the emulator's own count of accepted sends.

    python benchmarks/emulator_throughput.py [--seconds 10] [--concurrency 64] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import requests
from azure.communication.email import EmailClient
from azure.core.credentials import AzureKeyCredential

from warmup.emulator.auth import hmac_authorization

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from raw_sdk import raw_async_sends

from harness.deployment import EmulatorProcess

KEY = base64.b64encode(os.urandom(32)).decode()
MESSAGE = {
    "senderAddress": "bench@example.com",
    "recipients": {"to": [{"address": "someone@example.org"}]},
    "content": {"subject": "benchmark", "plainText": "hello"},
}


def reset(url: str) -> None:
    requests.post(url + "/_emulator/reset", timeout=5)


def count(url: str) -> int:
    return int(requests.get(url + "/_emulator/stats", timeout=5).json()["accepted"])


def sdk_threads(url: str, seconds: float, threads: int) -> int:
    client = EmailClient(
        url, AzureKeyCredential(KEY), retry_total=0, connection_pool_maxsize=threads
    )
    deadline = time.monotonic() + seconds

    def worker() -> int:
        n = 0
        while time.monotonic() < deadline:
            client.begin_send(MESSAGE, polling=False, operation_id=str(uuid.uuid4())).result()
            n += 1
        return n

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(lambda _: worker(), range(threads)))


async def raw_aiohttp(url: str, seconds: float, concurrency: int) -> int:
    path = "/emails:send?api-version=2025-09-01"
    body = json.dumps(MESSAGE).encode()
    host = url.removeprefix("http://")
    key = base64.b64decode(KEY)
    deadline = time.monotonic() + seconds
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal sent
            while time.monotonic() < deadline:
                headers = hmac_authorization(
                    key=key,
                    method="POST",
                    path_and_query=path,
                    host=host,
                    date=formatdate(usegmt=True),
                    body=body,
                )
                headers["Operation-Id"] = str(uuid.uuid4())
                headers["Content-Type"] = "application/json"
                async with session.post(url + path, data=body, headers=headers) as answer:
                    assert answer.status == 202, answer.status
                    await answer.read()
                sent += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sent


def measure(name: str, url: str, seconds: float, run: Any) -> dict[str, Any]:
    reset(url)
    started = time.monotonic()
    sent = run()
    elapsed = time.monotonic() - started
    counted = count(url)
    if counted != sent:
        raise RuntimeError(f"{name}: client counted {sent}, emulator {counted}")
    return {
        "client": name,
        "sent": sent,
        "seconds": round(elapsed, 2),
        "per_second": round(sent / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    emulator = EmulatorProcess(KEY)
    url = emulator.url
    try:
        results = [
            measure(
                "sdk-aio",
                url,
                args.seconds,
                lambda: asyncio.run(
                    raw_async_sends(url, KEY, MESSAGE, args.seconds, args.concurrency)
                ),
            ),
            measure(
                "sdk-aio-default",  # azure-core's default transport: netrc looked up per request
                url,
                args.seconds,
                lambda: asyncio.run(
                    raw_async_sends(url, KEY, MESSAGE, args.seconds, args.concurrency, True)
                ),
            ),
            measure(
                "sdk-sync-threads",
                url,
                args.seconds,
                lambda: sdk_threads(url, args.seconds, args.threads),
            ),
            measure(
                "raw-aiohttp",
                url,
                args.seconds,
                lambda: asyncio.run(raw_aiohttp(url, args.seconds, args.concurrency)),
            ),
        ]
    finally:
        emulator.stop()
    report = {
        "benchmark": "emulator_throughput",
        "latency_ms": 0,
        "concurrency": args.concurrency,
        "threads": args.threads,
        "cores": os.cpu_count(),
        "results": results,
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"emulator at zero latency, {args.seconds:.0f} s per client, {os.cpu_count()} cores")
    for r in results:
        print(
            f"  {r['client']:<18} {r['per_second']:>8.1f} sends/s"
            f"   ({r['sent']} in {r['seconds']} s)"
        )


if __name__ == "__main__":
    main()
