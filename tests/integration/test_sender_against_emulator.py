"""The real azure-communication-email SDK through warmup.sending's async sender: the one the
workers use and ``warmup send-test`` runs."""

import asyncio
import base64
import time
import uuid
from typing import Any

import aiohttp
import pytest
from azure.communication.email import EmailClient
from azure.communication.email.aio import EmailClient as AsyncEmailClient
from azure.core.credentials import AccessToken, AzureKeyCredential
from pydantic import SecretStr

from tests.conftest import (
    EMULATOR_KEY,
    emulator_config,
    message_to,
    send_all,
    settings_for,
    with_sender,
)
from warmup.emulator.server import EmulatorServer
from warmup.errors import AmbiguousSendError, PermanentSendError, ThrottledError
from warmup.sending.client import build_async_client, transport_options
from warmup.sending.retry import RetryPolicy
from warmup.sending.sender import AsyncSender

pytestmark = pytest.mark.integration


async def no_wait(seconds: float) -> None:
    pytest.fail(f"must not wait ({seconds} s)")


def test_a_send_is_accepted_with_a_message_id_and_a_status(emulator: EmulatorServer) -> None:
    async def use(sender: AsyncSender) -> str:
        accepted = await sender.send(message_to("ada@example.org"), "op-async-1")
        assert accepted.attempts == 1
        status = await sender.status(accepted.message_id)
        assert status.message_id == "op-async-1"
        return accepted.message_id

    assert with_sender(settings_for(emulator), use) == "op-async-1"
    assert emulator.stats()["accepted"] == 1


def test_wrong_key_gets_401_and_is_not_retried(emulator: EmulatorServer) -> None:
    wrong = base64.b64encode(b"not-the-right-key-at-all-0000000").decode()
    settings = settings_for(emulator, acs_access_key=SecretStr(wrong))
    with pytest.raises(PermanentSendError) as caught:
        with_sender(settings, lambda s: s.send(message_to("a@example.org"), "op-x"), sleep=no_wait)
    assert caught.value.status == 401
    assert wrong not in str(caught.value)
    assert emulator.stats()["rejected"] == {"Denied": 1}


def test_429_is_waited_out_then_the_send_succeeds() -> None:
    # A minute lasts 1.5 s here, so Retry-After is 1-2 s of real time.
    with EmulatorServer(emulator_config(send_per_minute=2, time_scale=40)) as server:
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)
            await asyncio.sleep(seconds)

        send_all(
            server, *((message_to(f"u{i}@example.org"), f"op-{i}") for i in range(3)), sleep=sleep
        )
        stats = server.stats()
    assert stats["throttled"] == 1
    assert stats["accepted"] == 3
    assert len(slept) == 1
    assert slept[0] >= 1
    assert stats["max_accepted_in_any_minute"] <= 2


def test_503_burst_is_retried_until_it_passes() -> None:
    with EmulatorServer(emulator_config(fault_503_rate=1.0)) as server:
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 3:  # the burst ends after the third failure
                server.reconfigure(fault_503_rate=0.0)

        (accepted,) = send_all(server, (message_to("a@example.org"), "op-503"), sleep=sleep)
        stats = server.stats()
    assert accepted.attempts == 4
    assert stats["injected"] == {"503": 3}
    assert stats["accepted"] == 1


def test_permanent_400_is_not_retried(emulator: EmulatorServer) -> None:
    bad = message_to("a@example.org")
    bad["senderAddress"] = "someone@not-linked.example"
    with pytest.raises(PermanentSendError) as caught:
        send_all(emulator, (bad, "op-400"), sleep=no_wait)
    assert caught.value.status == 400
    assert caught.value.code == "DomainNotLinked"
    assert emulator.stats()["rejected"] == {"DomainNotLinked": 1}


def test_reused_operation_id_is_counted_and_not_delivered_twice(emulator: EmulatorServer) -> None:
    first, second = send_all(
        emulator,
        (message_to("ada@example.org"), "op-same"),
        (message_to("ada@example.org"), "op-same"),
    )
    stats = emulator.stats(include_recipients=True)
    assert first.message_id == second.message_id
    assert stats["accepted"] == 1
    assert stats["reused_operation_ids"] == 1
    assert stats["accepted_per_recipient"] == {"ada@example.org": 1}


def test_a_lost_answer_is_ambiguous_and_acs_knows_the_message() -> None:
    # ACS accepted the send but the answer never arrived. The emulator does not de-duplicate
    # here, so a second post would be a second email: the sender raises instead (the row goes
    # to `verifying`), and asking ACS finds the message.
    config = emulator_config(drop_after_accept_rate=1.0, dedupe_operation_ids=False)
    with EmulatorServer(config) as server:

        async def use(sender: AsyncSender) -> str | None:
            with pytest.raises(AmbiguousSendError):
                await sender.send(message_to("a@example.org"), "op-amb")
            server.reconfigure(drop_after_accept_rate=0.0)
            known = await sender.lookup("op-amb")
            return known.message_id if known is not None else None

        assert with_sender(settings_for(server), use) == "op-amb"
        stats = server.stats(include_recipients=True)
    assert stats["accepted"] == 1
    assert stats["reused_operation_ids"] == 0
    assert stats["accepted_per_recipient"] == {"a@example.org": 1}


def test_a_request_that_never_arrived_is_unknown_to_acs_and_posted_again_once() -> None:
    config = emulator_config(drop_rate=1.0, dedupe_operation_ids=False)
    with EmulatorServer(config) as server:

        async def use(sender: AsyncSender) -> int:
            with pytest.raises(AmbiguousSendError):
                await sender.send(message_to("b@example.org"), "op-lost")
            server.reconfigure(drop_rate=0.0)  # the network is back when ACS is asked
            assert await sender.lookup("op-lost") is None
            return (await sender.send(message_to("b@example.org"), "op-lost")).attempts

        assert with_sender(settings_for(server), use) == 1
        stats = server.stats(include_recipients=True)
    assert stats["reused_operation_ids"] == 0
    assert stats["accepted_per_recipient"] == {"b@example.org": 1}


def test_every_429_reaches_the_throttle_hook_even_beyond_the_wait_cap() -> None:
    seen: list[float | None] = []
    with EmulatorServer(emulator_config(send_per_hour=1)) as server:
        send_all(server, (message_to("a@example.org"), "op-1"))
        with pytest.raises(ThrottledError) as caught:
            send_all(
                server,
                (message_to("b@example.org"), "op-2"),
                sleep=no_wait,
                throttle_hook=lambda error: seen.append(error.retry_after),
            )
    # Beyond the cap, the send raises instead of blocking for an hour.
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 3000
    assert len(seen) == 1
    assert seen[0] is not None
    assert seen[0] > 3000


def test_status_reaches_a_final_state(emulator: EmulatorServer) -> None:
    emulator.reconfigure(status_delay_seconds=0.2)

    async def use(sender: AsyncSender) -> tuple[Any, Any]:
        ok = await sender.send(message_to("ada@example.org"), "op-ok")
        bad = await sender.send(message_to("fail+1@example.org"), "op-bad")
        return (
            await sender.wait_for_status(ok.message_id, within=10, interval=0.1),
            await sender.wait_for_status(bad.message_id, within=10, interval=0.1),
        )

    started = time.monotonic()
    ok, bad = with_sender(settings_for(emulator), use)
    assert ok.status == "Succeeded"
    assert bad.status == "Failed"
    assert bad.error
    assert time.monotonic() - started < 10


class StaticToken:
    """A TokenCredential as azure-identity would give, without a network round trip."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        assert scopes == ("https://communication.azure.com//.default",)
        return AccessToken("entra-token", 4_102_444_800)


def test_entra_bearer_token_is_accepted_over_http_when_enabled() -> None:
    config = emulator_config(accept_bearer=True, bearer_token=SecretStr("entra-token"))
    with EmulatorServer(config) as server:
        client = EmailClient(server.url, StaticToken(), retry_total=0)
        result = client.begin_send(
            message_to("a@example.org"), polling=False, enforce_https=False
        ).result()
        assert result["status"] == "Running"
        # A key-signed request still works beside it.
        keyed = EmailClient(server.url, AzureKeyCredential(EMULATOR_KEY), retry_total=0)
        keyed.begin_send(message_to("b@example.org"), polling=False).result()
        assert server.stats()["accepted"] == 2


def test_many_concurrent_async_sends_each_land_once(emulator: EmulatorServer) -> None:
    async def use(sender: AsyncSender) -> None:
        await asyncio.gather(
            *(sender.send(message_to(f"u{i}@example.org"), str(uuid.uuid4())) for i in range(200))
        )

    with_sender(settings_for(emulator), use)
    stats = emulator.stats()
    assert stats["accepted"] == 200
    assert stats["recipients_accepted_more_than_once"] == 0


def test_the_async_client_looks_nothing_up_in_the_environment_per_request(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiohttp with trust_env reads ~/.netrc in a thread for every request: a quarter of a send
    # worker's CPU. The client warmup builds must not; azure-core's default does (the check).
    looked_up: list[str] = []
    monkeypatch.setattr(
        aiohttp.ClientSession,
        "_get_netrc_auth",
        lambda self, host: looked_up.append(host),
    )

    async def send(count: int, client: object, close: object) -> None:
        sender = AsyncSender(client, RetryPolicy())  # type: ignore[arg-type]
        try:
            for _ in range(count):
                await sender.send(message_to("ada@example.org"), str(uuid.uuid4()))
        finally:
            await close()  # type: ignore[operator]

    ours = build_async_client(settings_for(emulator))
    asyncio.run(send(3, ours, ours.close))
    assert looked_up == []
    default = build_async_client(settings_for(emulator))
    default.sdk = AsyncEmailClient(emulator.url, AzureKeyCredential(EMULATOR_KEY), retry_total=0)
    asyncio.run(send(3, default, default.sdk.close))
    assert len(looked_up) == 3  # the default transport: one look-up per request


def test_a_proxy_is_chosen_once_and_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    acs = "https://res.communication.azure.com"
    assert transport_options(acs) == {"use_env_settings": False}
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert transport_options(acs)["proxies"] == {
        "http": "http://proxy.internal:3128",
        "https": "http://proxy.internal:3128",
    }
    assert transport_options(acs, "http://mine:8080")["proxies"]["https"] == "http://mine:8080"
    monkeypatch.setenv("NO_PROXY", ".communication.azure.com")
    assert "proxies" not in transport_options(acs)


def test_send_test_settles_a_lost_answer_by_asking_acs_never_posting_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from warmup.commands.trial_send import run_trial_send

    config = emulator_config(drop_after_accept_rate=1.0, dedupe_operation_ids=False)
    with EmulatorServer(config) as server:
        status = run_trial_send(
            settings_for(server),
            to="ada@example.org",
            sender="news@example.com",
            subject="trial",
            wait=True,
            timeout=10,
        )
        stats = server.stats(include_recipients=True)
    assert status == "Succeeded"
    assert "the answer was lost; ACS says it has the message" in capsys.readouterr().out
    assert stats["accepted_per_recipient"] == {"ada@example.org": 1}
    assert stats["reused_operation_ids"] == 0
