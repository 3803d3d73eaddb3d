import base64
import time
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr

from warmup.emulator.config import EmulatorConfig
from warmup.emulator.server import EmulatorServer
from warmup.settings import AcsAuth, Settings

EMULATOR_KEY = base64.b64encode(b"warmup-test-access-key-0123456789").decode()
SENDER = "news@example.com"


def emulator_config(**overrides: object) -> EmulatorConfig:
    values: dict[str, object] = {"access_key": SecretStr(EMULATOR_KEY), "port": 0, "seed": 1}
    values.update(overrides)
    return EmulatorConfig.model_validate(values)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_config()) as server:
        yield server


def settings_for(server: EmulatorServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "acs_auth": AcsAuth.KEY,
        "acs_endpoint": server.url,
        "acs_access_key": SecretStr(EMULATOR_KEY),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll until ``condition`` holds; fail the test with a clear message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.02)


def message_to(*addresses: str, subject: str = "hello") -> dict[str, object]:
    return {
        "senderAddress": SENDER,
        "recipients": {"to": [{"address": a} for a in addresses]},
        "content": {"subject": subject, "plainText": "hi"},
    }
