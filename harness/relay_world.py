"""The SMTP relay for tests: in this process (on a thread of its own) or as a real process that
a test may kill, and smtplib clients that talk to it as apps and printers do."""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select

from harness.deployment import free_port
from warmup.clock import Clock, SystemClock
from warmup.emulator.tls import local_authority
from warmup.relay.server import RelayDoor, start_relay
from warmup.store.database import Database
from warmup.store.models import LedgerRow
from warmup.wiring import Stores


@dataclass
class Relay:
    port: int
    ca_pem: bytes
    door: RelayDoor | None = None

    def client(self, login: tuple[str, str] | None = None) -> smtplib.SMTP:
        """An smtplib client after STARTTLS (and AUTH, with ``login``)."""
        smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
        smtp.starttls(context=ssl.create_default_context(cadata=self.ca_pem.decode()))
        if login is not None:
            smtp.login(*login)
        return smtp


@contextmanager
def relay_in_thread(database: Database, clock: Clock | None = None) -> Iterator[Relay]:
    authority = local_authority("127.0.0.1")
    door = RelayDoor(Stores(database).relay_users, Stores(database).relayed, clock or SystemClock())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(
        start_relay(door, authority.server_context, "127.0.0.1", 0), loop
    ).result(10)
    try:
        yield Relay(server.sockets[0].getsockname()[1], authority.ca_pem, door)
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


class RelayProcess:
    """``warmup relay`` in a process of its own (a test may SIGKILL it and start it again)."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.database_url = database_url
        self.process: subprocess.Popen[bytes] | None = None
        self.ca_file = folder / "relay-ca.pem"

    def start(self) -> Relay:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
        env["WARMUP_DATABASE_URL"] = self.database_url
        self.ca_file.unlink(missing_ok=True)
        log = (self.folder / "relay.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "warmup",
                "relay",
                "--port",
                str(self.port),
                "--self-signed-ca",
                str(self.ca_file),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ca_file.exists():
                try:
                    with smtplib.SMTP("127.0.0.1", self.port, timeout=2) as probe:
                        probe.noop()
                    return Relay(self.port, self.ca_file.read_bytes())
                except OSError:
                    pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the relay did not start: {self.log()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def log(self) -> str:
        path = self.folder / "relay.log"
        return path.read_text(errors="replace") if path.exists() else ""


def submission(
    sender: str, to: list[str], subject: str = "Your password reset", size: int = 0
) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(to), subject
    message.set_content("Follow this link to reset your password." + "x" * size)
    return message


def relay_rows_left(database: Database) -> int:
    """Relayed messages' rows not yet accepted by ACS."""
    with database.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(LedgerRow)
                .where(LedgerRow.relay_message_id != 0, LedgerRow.state != "accepted")
            )
            or 0
        )
