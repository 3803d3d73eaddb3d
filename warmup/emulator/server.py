"""Running the emulator: in the foreground (``warmup emulator``) or on a background thread.

The background form is what the demo, the tests and the benchmarks use: it owns an event loop
on its own thread, binds (port 0 picks a free port) and exposes the stats and config safely
across threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from warmup.emulator.app import build_app
from warmup.emulator.config import EmulatorConfig
from warmup.emulator.core import Emulator
from warmup.emulator.smtp import SmtpDoor, smtp_server
from warmup.emulator.tls import LocalAuthority, local_authority
from warmup.logs import quiet_aiosmtpd

T = TypeVar("T")


@dataclass
class _Running:
    http: web.AppRunner
    smtp: asyncio.Server | None = None

    async def stop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
            await self.smtp.wait_closed()
        await self.http.cleanup()


async def _start(emulator: Emulator) -> _Running:
    runner = web.AppRunner(
        build_app(emulator), access_log=None, handle_signals=False, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.TCPSite(runner, emulator.config.host, emulator.config.port, backlog=1024)
    await site.start()
    host, port = runner.addresses[0][:2]
    emulator.base_url = f"http://{host}:{port}"
    config = emulator.config
    if config.smtp_port is None and config.arm_port is None:
        return _Running(runner)
    # One local CA signs the certificate of both TLS listeners; clients trust its PEM.
    authority = local_authority(config.host)
    emulator.ca_pem = authority.ca_pem
    if config.ca_file is not None:
        await asyncio.to_thread(Path(config.ca_file).write_bytes, authority.ca_pem)
    if config.arm_port is not None:
        secure = web.TCPSite(
            runner, config.host, config.arm_port, ssl_context=authority.server_context
        )
        await secure.start()
        arm_port = runner.addresses[-1][1]
        emulator.arm_url = f"https://{config.host}:{arm_port}"
    return _Running(runner, await _start_smtp(emulator, authority))


async def _start_smtp(emulator: Emulator, authority: LocalAuthority) -> asyncio.Server | None:
    config = emulator.config
    if config.smtp_port is None:
        return None
    door = SmtpDoor(emulator)
    quiet_aiosmtpd()
    server = await asyncio.get_running_loop().create_server(
        lambda: smtp_server(door, authority.server_context),
        config.host,
        config.smtp_port,
        backlog=1024,
    )
    emulator.smtp_port = server.sockets[0].getsockname()[1]
    return server


async def serve_forever(config: EmulatorConfig, ready: Callable[[Emulator], None]) -> None:
    """Serve until cancelled (Ctrl-C)."""
    emulator = Emulator(config)
    running = await _start(emulator)
    ready(emulator)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()


class EmulatorServer:
    """An emulator on a background thread: ``with EmulatorServer(config) as server: server.url``."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.emulator = Emulator(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="acs-emulator", daemon=True
        )
        self._running: _Running | None = None

    @property
    def url(self) -> str:
        return self.emulator.base_url

    @property
    def smtp_port(self) -> int:
        """The SMTP listener's port (the config must ask for one: ``smtp_port=0``)."""
        if self.emulator.smtp_port is None:
            raise RuntimeError("this emulator has no SMTP listener (set smtp_port)")
        return self.emulator.smtp_port

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate that signed the TLS listeners' certificate, for clients to trust."""
        if self.emulator.ca_pem is None:
            raise RuntimeError("this emulator has no TLS listener (set smtp_port or arm_port)")
        return self.emulator.ca_pem

    @property
    def arm_url(self) -> str:
        """The resource manager's base URL (https), for the management SDK's ``base_url``."""
        if self.emulator.arm_url is None:
            raise RuntimeError("this emulator serves no resource manager routes (set arm_port)")
        return self.emulator.arm_url

    def start(self) -> EmulatorServer:
        self._thread.start()
        self._running = asyncio.run_coroutine_threadsafe(_start(self.emulator), self._loop).result(
            10
        )
        return self

    def stop(self) -> None:
        if self._running is not None:
            asyncio.run_coroutine_threadsafe(self._running.stop(), self._loop).result(10)
            self._running = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop, where its state lives, and return its result."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(10)

    def stats(self, *, include_recipients: bool = False) -> dict[str, Any]:
        return self.call(
            lambda: self.emulator.stats.snapshot(include_recipients=include_recipients)
        )

    def reconfigure(self, **changes: Any) -> None:
        self.call(lambda: self.emulator.reconfigure(changes))

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
