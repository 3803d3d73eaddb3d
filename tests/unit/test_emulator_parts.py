"""The emulator's pieces without HTTP: quotas, auth, body checks, outcomes, core behaviour."""

import base64
import json
import random
from email.utils import formatdate

import pytest
from pydantic import SecretStr, ValidationError

from warmup.emulator.auth import hmac_authorization, verify_bearer, verify_hmac
from warmup.emulator.config import DeliveryStatus, EmulatorConfig
from warmup.emulator.core import Emulator
from warmup.emulator.outcomes import decide
from warmup.emulator.quota import SlidingWindowQuota, max_in_any_window, try_admit
from warmup.emulator.validation import Rejection, parse_send

KEY = base64.b64encode(b"k" * 32).decode()


def message(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "senderAddress": "news@example.com",
        "recipients": {"to": [{"address": "a@example.org"}]},
        "content": {"subject": "hello", "plainText": "hi"},
    }
    body.update(overrides)
    return json.dumps(body).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- quota --------------------------------------------------------------------------------


def test_sliding_window_admits_limit_then_says_how_long_to_wait() -> None:
    quota = SlidingWindowQuota(3, 60)
    for t in (0, 10, 20):
        assert try_admit([quota], t) == 0
    assert try_admit([quota], 30) == pytest.approx(30)  # the 0 s admission leaves at 60 s
    assert try_admit([quota], 60) == 0


def test_all_or_nothing_across_minute_and_hour() -> None:
    minute, hour = SlidingWindowQuota(5, 60), SlidingWindowQuota(6, 3600)
    for t in range(5):
        assert try_admit([minute, hour], t) == 0
    assert try_admit([minute, hour], 5) > 0
    assert try_admit([minute, hour], 61) == 0  # the sixth of the hour
    assert try_admit([minute, hour], 100) == pytest.approx(3600 - 100)
    assert len(minute._admitted) == 1  # the rejected attempt took nothing


def test_max_in_any_window_finds_the_busiest_stretch() -> None:
    assert max_in_any_window([], 60) == 0
    assert max_in_any_window([0, 30, 59.9, 60, 119], 60) == 3
    assert max_in_any_window([0, 1, 2, 200, 201], 60) == 3


# --- auth ---------------------------------------------------------------------------------


def signed(body: bytes, *, date: str | None = None, key: bytes = b"k" * 32) -> dict[str, str]:
    return hmac_authorization(
        key=key,
        method="POST",
        path_and_query="/emails:send?api-version=2025-09-01",
        host="127.0.0.1:7071",
        date=date or formatdate(usegmt=True),
        body=body,
    )


def verify(headers: dict[str, str], body: bytes, now: float | None = None) -> str | None:
    import time

    return verify_hmac(
        key=b"k" * 32,
        method="POST",
        path_and_query="/emails:send?api-version=2025-09-01",
        host="127.0.0.1:7071",
        headers=headers,
        body=body,
        now_epoch=time.time() if now is None else now,
        max_skew_seconds=900,
    )


def test_correct_signature_passes() -> None:
    body = message()
    assert verify(signed(body), body) is None


def test_wrong_key_fails() -> None:
    body = message()
    assert verify(signed(body, key=b"x" * 32), body) == "signature does not match"


def test_tampered_body_fails_on_the_content_hash() -> None:
    headers = signed(message())
    assert "content-sha256" in (verify(headers, message(senderAddress="x@example.com")) or "")


def test_old_date_fails_on_skew() -> None:
    body = message()
    old = formatdate(1_000_000, usegmt=True)
    assert "skew" in (verify(signed(body, date=old), body) or "")


def test_missing_authorization_fails() -> None:
    assert verify({}, b"") is not None


def test_bearer_token_checks() -> None:
    assert verify_bearer({"Authorization": "Bearer abc"}, None) is None
    assert verify_bearer({"Authorization": "Bearer abc"}, "xyz") is not None
    assert verify_bearer({"Authorization": "HMAC-SHA256 x"}, None) is not None


# --- body checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "InvalidRequestBody"),
        (b"[]", 400, "InvalidRequestBody"),
        (message(senderAddress="a@elsewhere.com"), 400, "DomainNotLinked"),
        (message(recipients={"to": []}), 400, "InvalidRecipients"),
        (message(recipients={"to": [{"address": "nope"}]}), 400, "InvalidRecipients"),
        (
            message(recipients={"to": [{"address": f"u{i}@x.org"} for i in range(51)]}),
            400,
            "TooManyRecipients",
        ),
        (message(content={"plainText": "no subject"}), 400, "InvalidContent"),
        (b"x" * (10 * 1024 * 1024 + 1), 413, "RequestEntityTooLarge"),
    ],
)
def test_bad_bodies_are_rejected_as_acs_does(body: bytes, status: int, code: str) -> None:
    with pytest.raises(Rejection) as caught:
        parse_send(body, ["example.com"])
    assert (caught.value.status, caught.value.code) == (status, code)


def test_fifty_recipients_across_to_cc_bcc_are_fine() -> None:
    recipients = {
        kind: [{"address": f"{kind}{i}@x.org"} for i in range(n)]
        for kind, n in (("to", 30), ("cc", 10), ("bcc", 10))
    }
    assert len(parse_send(message(recipients=recipients), ["example.com"]).recipients) == 50


# --- outcomes -----------------------------------------------------------------------------


def test_rules_choose_outcomes_by_address() -> None:
    config = EmulatorConfig(access_key=SecretStr(KEY))
    rng = random.Random(1)
    assert decide("bounce+1@x.org", config, rng).status is DeliveryStatus.BOUNCED
    assert decide("Spam+1@x.org", config, rng).status is DeliveryStatus.FILTERED_SPAM
    assert decide("someone@nowhere.invalid", config, rng).status is DeliveryStatus.BOUNCED
    assert decide("ada@x.org", config, rng).status is DeliveryStatus.DELIVERED


def test_random_bounce_rate_is_honoured() -> None:
    config = EmulatorConfig(access_key=SecretStr(KEY), bounce_rate=0.2)
    rng = random.Random(7)
    bounced = sum(
        decide(f"u{i}@x.org", config, rng).status is DeliveryStatus.BOUNCED for i in range(5000)
    )
    assert 900 < bounced < 1100


def test_config_rejects_a_key_that_is_not_base64() -> None:
    with pytest.raises(ValidationError, match="base64"):
        EmulatorConfig(access_key=SecretStr("KEY"))


# --- core ---------------------------------------------------------------------------------


def make(clock: Clock, **config: object) -> Emulator:
    return Emulator(EmulatorConfig(access_key=SecretStr(KEY), **config), clock=clock)  # type: ignore[arg-type]


def test_reused_operation_id_returns_the_same_result_and_is_counted_not_delivered() -> None:
    emulator = make(Clock())
    first = emulator.send("op-1", message())
    again = emulator.send("op-1", message())
    assert first.status == again.status == 202
    assert first.body == again.body
    assert first.body is not None
    assert first.body["id"] == "op-1"
    assert emulator.stats.accepted == 1
    assert emulator.stats.reused_operation_ids == 1
    assert emulator.stats.accepted_recipients["a@example.org"] == 1


def test_reuse_with_another_body_is_flagged() -> None:
    emulator = make(Clock())
    emulator.send("op-1", message())
    emulator.send("op-1", message(content={"subject": "changed", "plainText": "x"}))
    assert emulator.stats.reused_with_different_body == 1


def test_quota_429_carries_retry_after_in_real_seconds_of_the_scaled_clock() -> None:
    clock = Clock()
    emulator = make(clock, send_per_minute=5, time_scale=10)
    for i in range(5):
        assert emulator.send(f"op-{i}", message()).status == 202
    throttled = emulator.send("op-5", message())
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "6"  # 60 emulated s at 10x
    assert throttled.headers["x-ms-error-code"] == "TooManyRequests"
    clock.now += 6
    assert emulator.send("op-5", message()).status == 202


def test_status_goes_from_running_to_a_final_state() -> None:
    clock = Clock()
    emulator = make(clock, status_delay_seconds=2)
    emulator.send("ok", message())
    emulator.send("bad", message(recipients={"to": [{"address": "fail+1@x.org"}]}))
    assert emulator.status("ok").body == {"id": "ok", "status": "Running", "error": None}
    clock.now += 2
    assert emulator.status("ok").body["status"] == "Succeeded"  # type: ignore[index]
    assert emulator.status("bad").body["status"] == "Failed"  # type: ignore[index]
    assert emulator.status("missing").status == 404


def test_status_quota_applies() -> None:
    emulator = make(Clock(), status_per_minute=2)
    emulator.send("ok", message())
    assert [emulator.status("ok").status for _ in range(3)] == [200, 200, 429]
    assert emulator.stats.status_throttled == 1


def test_stats_find_overshoot_in_any_minute() -> None:
    clock = Clock()
    emulator = make(clock)
    for i in range(4):
        emulator.send(f"op-{i}", message())
        clock.now += 20
    assert emulator.stats.snapshot()["max_accepted_in_any_minute"] == 3


def test_engagement_rules_can_pick_recipients_by_address() -> None:
    from warmup.emulator.config import EngagementRule
    from warmup.emulator.delivery import EventDelivery
    from warmup.emulator.validation import SendRequest

    config = EmulatorConfig(
        access_key="AAAA",
        engagement_rules=[
            EngagementRule(address="^clicker[+@]", open_rate=1.0, click_rate=1.0),
            EngagementRule(address="^opener[+@]", open_rate=1.0),
        ],
    )
    emulator = Emulator(config)
    EventDelivery(emulator)  # hooks itself to accepted sends
    for address in ("clicker@example.org", "opener@example.org", "quiet@example.org"):
        emulator.accept(
            SendRequest("news@example.com", (address,), "Hello"), message_id=None, body_hash=""
        )
    kinds = {(e.recipient, e.kind) for e in emulator.engagement_log}
    assert kinds == {
        ("clicker@example.org", "view"),
        ("clicker@example.org", "click"),
        ("opener@example.org", "view"),
    }
