"""An IMAP server on 127.0.0.1 for tests: pymap's in-memory backend, in a process of its own,
with its one user. Mail is put in with APPEND, as a mail server would deliver it."""

from __future__ import annotations

import imaplib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from harness.deployment import free_port

USER, PASSWORD = "demouser", "demopass"  # pymap's dict backend's one user


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    user: str = USER
    password: str = PASSWORD

    def connect(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(self, message: bytes, folder: str = "INBOX") -> None:
        client = self.connect()
        try:
            status, _ = client.append(folder, None, None, message)
            assert status == "OK", status
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.connect()
        try:
            status, data = client.select(folder, readonly=True)
            return int(data[0] or 0) if status == "OK" else 0
        finally:
            client.logout()


@contextmanager
def imap_server() -> Iterator[ImapServer]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pymap.main import main; sys.exit(main())",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-tls",
            "dict",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = ImapServer("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, "pymap exited"
            try:
                server.connect().logout()
                break
            except OSError:
                assert time.monotonic() < deadline, "the IMAP server did not start"
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(10)
