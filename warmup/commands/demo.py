"""``warmup demo``: the whole path on one machine, with nothing to install or configure.

Starts the emulator in-process with a tight quota on an accelerated clock (an emulated minute
lasts a few seconds), sends a handful of messages through the real SDK, waits out the 429s the
quota produces, reads each operation's final status and prints what the emulator counted.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from warmup.settings import AcsAuth, Settings

DEMO_RECIPIENTS = [
    "ada@example.org",
    "grace@example.org",
    "bounce+katherine@example.org",
    "linus@example.org",
    "margaret@example.org",
    "fail+barbara@example.org",
    "edsger@example.org",
    "donald@example.org",
]


def demo(
    per_minute: Annotated[int, typer.Option(help="The emulator's send quota per minute.")] = 5,
    time_scale: Annotated[
        float, typer.Option(help="How much faster the emulator's minute passes.")
    ] = 20.0,
) -> None:
    """Run a demo end to end against an in-process emulator."""
    # Imported here so that other commands do not pay for the SDK and the server at start-up.
    from warmup.emulator.config import EmulatorConfig
    from warmup.emulator.server import EmulatorServer
    from warmup.sending import RetryPolicy, Sender, build_client, build_message

    console = Console()
    key = base64.b64encode(os.urandom(32)).decode()
    config = EmulatorConfig(
        access_key=SecretStr(key),
        port=0,
        sender_domains=["demo.example.com"],
        send_per_minute=per_minute,
        time_scale=time_scale,
        status_delay_seconds=0.2,
    )
    started = time.monotonic()
    with EmulatorServer(config) as server:
        settings = Settings(
            acs_auth=AcsAuth.KEY, acs_endpoint=server.url, acs_access_key=SecretStr(key)
        )
        console.print(
            f"emulator on {server.url}: quota {per_minute}/min, "
            f"a minute lasts {60 / time_scale:.0f} s"
        )
        client = build_client(settings)
        sender = Sender(client, RetryPolicy.from_settings(settings))
        table = Table(title="demo sends")
        for column in ("recipient", "attempts", "message id", "status"):
            table.add_column(column)
        with console.status("sending…") as status:
            for index, address in enumerate(DEMO_RECIPIENTS, start=1):
                status.update(f"sending {index}/{len(DEMO_RECIPIENTS)} to {address}")
                message = build_message(
                    sender="hello@demo.example.com",
                    to=[address],
                    subject="Welcome to warmup",
                    plain_text="Hello from the warmup demo.",
                )
                accepted = sender.send(message, operation_id=str(uuid.uuid4()))
                final = sender.wait_for_status(accepted.message_id, timeout=30, interval=0.25)
                table.add_row(address, str(accepted.attempts), accepted.message_id, final.status)
        client.close()
        stats = server.stats()
    console.print(table)
    console.print(
        f"emulator counted: {stats['accepted']} accepted, {stats['throttled']} throttled (429), "
        f"busiest emulated minute {stats['max_accepted_in_any_minute']}/{per_minute}; "
        f"took {time.monotonic() - started:.1f} s"
    )
