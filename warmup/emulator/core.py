"""The emulator's behaviour without HTTP: each request in, one :class:`Reply` out.

Everything runs on one event loop, so the state needs no locks. Time comes from injected
clocks; quota windows run on an emulated clock that passes ``time_scale`` times faster.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from warmup.emulator import auth
from warmup.emulator.config import SUPPORTED_API_VERSIONS, DeliveryStatus, EmulatorConfig
from warmup.emulator.outcomes import DeliveryFate, decide
from warmup.emulator.quota import SlidingWindowQuota, try_admit
from warmup.emulator.stats import Stats
from warmup.emulator.validation import Rejection, SendRequest, parse_send

MINUTE = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def error_reply(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Reply:
    return Reply(
        status,
        {"error": {"code": code, "message": message}},
        {"x-ms-error-code": code, **(headers or {})},
    )


@dataclass
class Operation:
    message_id: str
    body_hash: str
    request: SendRequest
    accepted_at: float  # real (monotonic) seconds
    outcomes: dict[str, DeliveryFate]
    # The message's Message-ID header when the client set one (SMTP), else ACS makes one up.
    internet_message_id: str | None = None
    accepted_wall: datetime = field(default_factory=lambda: datetime.now(UTC))

    def status(self, now: float, delay: float) -> str:
        if now - self.accepted_at < delay:
            return "Running"
        failed = all(o.status is DeliveryStatus.FAILED for o in self.outcomes.values())
        return "Failed" if failed else "Succeeded"


ReportSink = Callable[[Operation], None]


@dataclass(frozen=True)
class Engagement:
    """One open ("view") or click of a delivered message, as the engagement log has it."""

    at: datetime
    message_id: str
    recipient: str
    kind: str
    context: str


@dataclass
class ArmState:
    """What ops created through the emulated resource manager (see arm.py): sender usernames
    per domain (name → properties), SMTP usernames (name → properties)."""

    senders: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    smtp_usernames: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Suppression lists per domain (name → properties), and their addresses per (domain, list):
    # address id → properties (email, notes...).
    suppression_lists: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    suppressed: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    calls: int = 0
    writes: int = 0  # PUTs and DELETEs that changed something

    def smtp_password(self, config: EmulatorConfig, username: str) -> str | None:
        """The password an SMTP username made through ARM logs in with: its Entra app's
        client secret (``entra_apps``), as at smtp.azurecomm.net."""
        for entry in self.smtp_usernames.values():
            if entry["username"].lower() == username.lower():
                secret = config.entra_apps.get(entry["entraApplicationId"])
                return secret.get_secret_value() if secret is not None else None
        return None


class Emulator:
    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.base_url = f"http://{config.host}:{config.port}"
        self._clock = clock
        self._wall = wall
        self._last_real = clock()
        self._emulated = 0.0
        self.rng = random.Random(config.seed)  # noqa: S311 - simulation, not security
        self.stats = Stats()
        self.operations: dict[str, Operation] = {}
        self.on_accept: ReportSink | None = None
        # Set when the SMTP listener or the resource manager's TLS site runs (see server.py).
        self.smtp_port: int | None = None
        self.arm_url: str | None = None
        self.ca_pem: bytes | None = None
        self.arm_state = ArmState()
        self.engagement_log: list[Engagement] = []
        self.started_wall = self.wall_time().replace(microsecond=0)
        self._build_quotas()

    def _build_quotas(self) -> None:
        def quotas(per_minute: int | None, per_hour: int | None) -> list[SlidingWindowQuota]:
            limits = ((per_minute, MINUTE), (per_hour, HOUR))
            return [SlidingWindowQuota(n, window) for n, window in limits if n is not None]

        self._send_quotas = quotas(self.config.send_per_minute, self.config.send_per_hour)
        self._status_quotas = quotas(self.config.status_per_minute, self.config.status_per_hour)

    def reconfigure(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial config; quota changes start with empty windows."""
        self.emulated_now()  # settle elapsed time at the old scale before it changes
        merged = {**self.config.model_dump(), **changes}
        self.config = EmulatorConfig.model_validate(merged)
        if any(key.endswith(("_per_minute", "_per_hour")) for key in changes):
            self._build_quotas()

    def reset(self) -> None:
        self.stats = Stats()
        self.operations.clear()
        self.engagement_log.clear()
        self._build_quotas()

    def emulated_now(self) -> float:
        real = self._clock()
        self._emulated += (real - self._last_real) * self.config.time_scale
        self._last_real = real
        return self._emulated

    def _retry_after(self, emulated_wait: float) -> str:
        return str(max(1, math.ceil(emulated_wait / self.config.time_scale)))

    # --- requests -------------------------------------------------------------------------

    def authenticate(
        self, method: str, path_and_query: str, host: str, headers: Mapping[str, str], body: bytes
    ) -> Reply | None:
        """``None`` when the caller may proceed, else the 401 to answer."""
        if self.config.accept_bearer and headers.get("Authorization", "").lower().startswith(
            "bearer "
        ):
            token = self.config.bearer_token
            reason = auth.verify_bearer(headers, token.get_secret_value() if token else None)
        else:
            reason = auth.verify_hmac(
                key=self.config.key_bytes,
                method=method,
                path_and_query=path_and_query,
                host=host,
                headers=headers,
                body=body,
                now_epoch=self._wall(),
                max_skew_seconds=self.config.max_clock_skew_seconds,
            )
        if reason is None:
            return None
        self.stats.rejected["Denied"] += 1
        return error_reply(401, "Denied", f"Denied by the resource provider: {reason}.")

    def check_sender_username(self, sender: str) -> None:
        """With ``require_sender_usernames``, the sender's local part must be a sender
        username of its domain (made through the resource manager), as ACS requires of a
        MailFrom address; raise :class:`Rejection` otherwise."""
        if not self.config.require_sender_usernames:
            return
        username, _, domain = sender.lower().rpartition("@")
        if username not in {
            entry["username"].lower() for entry in self.arm_state.senders.get(domain, {}).values()
        }:
            raise Rejection(
                400,
                "InvalidSenderUsername",
                f"the sender username {username} is not set up for the domain {domain}",
            )

    def check_api_version(self, version: str | None) -> Reply | None:
        if version is None:
            return error_reply(400, "MissingApiVersionParameter", "api-version is required")
        if version not in SUPPORTED_API_VERSIONS:
            return error_reply(
                400,
                "UnsupportedApiVersion",
                f"api-version {version} is not one of {sorted(SUPPORTED_API_VERSIONS)}",
            )
        return None

    def injected_fault(self) -> str | None:
        """Draw this request's injected fault: 'drop', '500', '503', '429' or None."""
        draw = self.rng.random()
        for kind, rate in (
            ("drop", self.config.drop_rate),
            ("500", self.config.fault_500_rate),
            ("503", self.config.fault_503_rate),
            ("429", self.config.fault_429_rate),
        ):
            if draw < rate:
                self.stats.injected[kind] += 1
                if kind == "429":
                    self.stats.throttle_walls.append(time.time())
                return kind
            draw -= rate
        return None

    def fault_reply(self, kind: str) -> Reply:
        if kind == "429":
            return error_reply(
                429,
                "TooManyRequests",
                "Too many requests (injected).",
                {"Retry-After": str(self.config.fault_retry_after_seconds)},
            )
        if kind == "500":
            return error_reply(500, "InternalServerError", "An internal error occurred (injected).")
        return error_reply(503, "ServiceUnavailable", "The service is unavailable (injected).")

    def send(self, operation_id: str | None, body: bytes) -> Reply:
        body_hash = hashlib.sha256(body).hexdigest()
        if operation_id is not None and operation_id in self.operations:
            existing = self.operations[operation_id]
            self.stats.reused_operation_ids += 1
            if existing.body_hash != body_hash:
                self.stats.reused_with_different_body += 1
            if self.config.dedupe_operation_ids:
                return self._accepted_reply(existing)
        try:
            request = parse_send(body, self.config.sender_domains)
            self.check_sender_username(request.sender)
        except Rejection as rejection:
            self.stats.rejected[rejection.code] += 1
            return error_reply(rejection.status, rejection.code, rejection.message)

        admitted = self.accept(request, message_id=operation_id, body_hash=body_hash)
        if isinstance(admitted, float):
            return error_reply(
                429,
                "TooManyRequests",
                "The request was throttled: the email sending quota is exceeded.",
                {"Retry-After": self._retry_after(admitted)},
            )
        return self._accepted_reply(admitted)

    def accept(
        self,
        request: SendRequest,
        *,
        message_id: str | None,
        body_hash: str,
        internet_message_id: str | None = None,
    ) -> Operation | float:
        """Admit one checked message under the send quota, whichever door it came in by (REST
        or SMTP): the operation, or the emulated seconds to wait when the quota is spent."""
        now = self.emulated_now()
        wait = try_admit(self._send_quotas, now)
        if wait > 0:
            self.stats.throttled += 1
            self.stats.throttle_walls.append(time.time())
            return wait
        message_id = message_id or str(uuid.uuid4())
        operation = Operation(
            message_id=message_id,
            body_hash=body_hash,
            request=request,
            accepted_at=self._clock(),
            outcomes={
                address: decide(address, self.config, self.rng) for address in request.recipients
            },
            internet_message_id=internet_message_id,
            accepted_wall=self.wall_time(),
        )
        self.operations[message_id] = operation
        self.stats.record_accept(now, request.recipients)
        self.stats.outcomes.update(outcome.status.value for outcome in operation.outcomes.values())
        if self.on_accept is not None:
            self.on_accept(operation)
        return operation

    def _accepted_reply(self, operation: Operation) -> Reply:
        location = (
            f"{self.base_url}/emails/operations/{operation.message_id}?api-version=2025-09-01"
        )
        retry_after = str(max(1, math.ceil(self.config.status_delay_seconds)))
        return Reply(
            202,
            {"id": operation.message_id, "status": "Running", "error": None},
            {"Operation-Location": location, "retry-after": retry_after},
        )

    def status(self, operation_id: str) -> Reply:
        self.stats.status_requests += 1
        wait = try_admit(self._status_quotas, self.emulated_now())
        if wait > 0:
            self.stats.status_throttled += 1
            return error_reply(
                429,
                "TooManyRequests",
                "The request was throttled: the status request quota is exceeded.",
                {"Retry-After": self._retry_after(wait)},
            )
        operation = self.operations.get(operation_id)
        if operation is None:
            return error_reply(404, "NotFound", f"operation {operation_id} was not found")
        status = operation.status(self._clock(), self.config.status_delay_seconds)
        error = None
        if status == "Failed":
            error = {"code": "DeliveryFailed", "message": "The message could not be delivered."}
        return Reply(200, {"id": operation.message_id, "status": status, "error": error})

    def wall_time(self) -> datetime:
        return datetime.fromtimestamp(self._wall(), UTC)


def dumps(body: dict[str, Any] | None) -> bytes:
    return b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
