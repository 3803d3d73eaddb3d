"""What the emulator is told to do: quotas, faults, latency, outcomes and event delivery.

Every field can be set on the command line (``warmup emulator --help``) and most can be changed
while it runs (``PATCH /_emulator/config``), which is how tests stage a 503 burst or a bounce spike.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

SUPPORTED_API_VERSIONS = frozenset({"2023-03-31", "2025-09-01"})

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class DeliveryStatus(StrEnum):
    """The ``status`` of an ``EmailDeliveryReportReceived`` event."""

    DELIVERED = "Delivered"
    BOUNCED = "Bounced"
    SUPPRESSED = "Suppressed"
    FILTERED_SPAM = "FilteredSpam"
    QUARANTINED = "Quarantined"
    FAILED = "Failed"


class EventSchema(StrEnum):
    EVENT_GRID = "eventgrid"
    CLOUD_EVENTS = "cloudevents"


class OutcomeRule(BaseModel):
    """Recipients whose address matches ``pattern`` (a case-insensitive regex) get ``status``."""

    model_config = ConfigDict(frozen=True)

    pattern: str
    status: DeliveryStatus
    details: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


# Addresses such as bounce+anything@example.com let a test choose an outcome per recipient.
DEFAULT_RULES: tuple[OutcomeRule, ...] = (
    OutcomeRule(
        pattern=r"^bounce[+@]",
        status=DeliveryStatus.BOUNCED,
        details="550 5.1.1 The email account that you tried to reach does not exist.",
    ),
    OutcomeRule(
        pattern=r"^suppressed[+@]",
        status=DeliveryStatus.SUPPRESSED,
        details="Recipient is on the suppression list.",
    ),
    OutcomeRule(
        pattern=r"^spam[+@]",
        status=DeliveryStatus.FILTERED_SPAM,
        details="Message was identified as spam.",
    ),
    OutcomeRule(
        pattern=r"^quarantine[+@]",
        status=DeliveryStatus.QUARANTINED,
        details="Message was quarantined.",
    ),
    OutcomeRule(
        pattern=r"^softfail[+@]",
        status=DeliveryStatus.FAILED,
        details="451 4.7.500 Server busy. Please try again later.",
    ),
    OutcomeRule(
        pattern=r"^fail[+@]",
        status=DeliveryStatus.FAILED,
        details="554 5.2.0 Message delivery failed.",
    ),
    OutcomeRule(
        pattern=r"@(?:[^@]*\.)?invalid$",
        status=DeliveryStatus.BOUNCED,
        details="550 5.1.2 Recipient domain does not exist.",
    ),
)


class EngagementRule(BaseModel):
    """Delivered messages whose subject matches ``subject`` and whose recipient matches
    ``address`` (case-insensitive regexes) are opened with probability ``open_rate`` and, once
    opened, clicked with ``click_rate``: each open or click is an
    EmailEngagementTrackingReportReceived event (and a row of the engagement log), as ACS makes
    when engagement tracking is on. Lets tests give one A/B variant, or some recipients, more
    engagement."""

    model_config = ConfigDict(frozen=True)

    subject: str = ""  # empty: any subject
    # A case-insensitive regex on the recipient's address (empty: anyone), e.g. "^clicker[+@]".
    address: str = ""
    open_rate: Probability = 0.0
    click_rate: Probability = 0.0


VERIFIED_RECORDS = ("Domain", "SPF", "DKIM", "DKIM2", "DMARC")


class ArmDomain(BaseModel):
    """An Email Service domain as the resource manager describes it: each DNS record's
    verification status (Verified, NotStarted, VerificationRequested, VerificationInProgress,
    VerificationFailed, CancellationRequested) and who manages it."""

    model_config = ConfigDict(frozen=True)

    verification: dict[str, str] = Field(
        default_factory=lambda: dict.fromkeys(VERIFIED_RECORDS, "Verified")
    )
    management: str = "CustomerManaged"  # or AzureManaged, CustomerManagedInExchangeOnline
    engagement_tracking: bool = False


class EmulatorConfig(BaseModel):
    """The whole behaviour of one emulator. Durations are real seconds unless said otherwise."""

    model_config = ConfigDict(validate_assignment=True)

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 7071
    # The resource's access key, base64 as ACS issues them.
    access_key: SecretStr
    accept_bearer: bool = False
    # With accept_bearer, only this token is accepted when set; any non-empty token otherwise.
    bearer_token: SecretStr | None = None
    max_clock_skew_seconds: NonNegative = 900.0
    # Sender domains linked to the resource; an empty list accepts any domain.
    sender_domains: list[str] = Field(default_factory=lambda: ["example.com"])

    # Quotas (None = unlimited). Windows slide; an emulated minute lasts 60 / time_scale s.
    send_per_minute: Annotated[int, Field(ge=1)] | None = None
    send_per_hour: Annotated[int, Field(ge=1)] | None = None
    status_per_minute: Annotated[int, Field(ge=1)] | None = None
    status_per_hour: Annotated[int, Field(ge=1)] | None = None
    time_scale: Annotated[float, Field(gt=0)] = 1.0

    # Injected latency and faults, applied to every send and status request.
    latency_ms: NonNegative = 0.0
    jitter_ms: NonNegative = 0.0
    fault_500_rate: Probability = 0.0
    fault_503_rate: Probability = 0.0
    fault_429_rate: Probability = 0.0
    fault_retry_after_seconds: Annotated[int, Field(ge=0)] = 1
    drop_rate: Probability = 0.0  # close the connection before doing anything
    drop_after_accept_rate: Probability = 0.0  # accept the send, then close without answering

    # Whether a repeated Operation-Id returns the first operation (what ACS may do; Microsoft
    # does not document it) or is taken as a new message: a second email, counted in
    # ``reused_operation_ids``. Off, the emulator is a strict witness for "never post twice".
    dedupe_operation_ids: bool = True

    # Operation status and delivery outcomes.
    status_delay_seconds: NonNegative = 0.5
    outcome_rules: list[OutcomeRule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    bounce_rate: Probability = 0.0
    failure_rate: Probability = 0.0
    spam_rate: Probability = 0.0
    # Opens and clicks of delivered messages, by subject (the first rule that matches).
    engagement_rules: list[EngagementRule] = Field(default_factory=list)

    # Event Grid delivery of EmailDeliveryReportReceived to a webhook.
    webhook_url: str | None = None
    event_schema: EventSchema = EventSchema.EVENT_GRID
    event_delay_seconds: NonNegative = 0.5
    event_delay_jitter_seconds: NonNegative = 0.0  # > 0 delivers events out of order
    event_batch_size: Annotated[int, Field(ge=1, le=5000)] = 100
    duplicate_rate: Probability = 0.0
    vary_event_spelling: bool = False  # lowercase statuses and both timestamp spellings

    # The SMTP listener (smtp.azurecomm.net:587's twin): None for none, 0 picks a free port.
    # STARTTLS with a certificate from a local test CA, then AUTH LOGIN or PLAIN against
    # ``smtp_users`` (username → password: the long <resource>.<app id>.<tenant id> form or a
    # short SMTP username). The CA is written to ``ca_file`` for clients to trust.
    smtp_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    smtp_users: dict[str, SecretStr] = Field(default_factory=dict)
    ca_file: str | None = None

    # The Azure Resource Manager routes of warmup's ops commands (see arm.py), over TLS from
    # the same local CA: None for none, 0 picks a free port. Any bearer token is accepted
    # unless arm_token is set; arm_forbidden answers 403 as a missing role assignment does.
    arm_port: Annotated[int, Field(ge=0, le=65535)] | None = None
    arm_token: SecretStr | None = None
    arm_forbidden: bool = False
    arm_subscription: str = "00000000-0000-0000-0000-000000000000"
    arm_resource_group: str = "warmup-emulator"
    arm_email_service: str = "emulator-email"
    arm_communication_service: str = "emulator"
    # Email Service domains by name (lower case); the sender domains get a verified one each.
    arm_domains: dict[str, ArmDomain] = Field(default_factory=dict)
    # Entra apps (application id → client secret): an SMTP username made through ARM for an
    # app logs in at the SMTP listener with the app's secret.
    entra_apps: dict[str, SecretStr] = Field(default_factory=dict)
    # Senders must be sender usernames of their domain (PUT through the resource manager), as
    # ACS requires; off, any address on a linked domain may send.
    require_sender_usernames: bool = False
    # Rows of ACSEmailStatusUpdateOperational for messages of no campaign, besides the real
    # ones (see log_analytics.py): a large table to page through.
    synthetic_log_rows: Annotated[int, Field(ge=0, le=5_000_000)] = 0

    # Gmail Postmaster Tools (see postmaster.py): each domain's days as Google's TrafficStats
    # resources ({"name": "domains/d/trafficStats/YYYYMMDD", "userReportedSpamRatio": ...}),
    # served to the token postmaster_token (granted by POST /token to any client).
    postmaster_days: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    postmaster_token: str = "emulator-postmaster-token"  # noqa: S105 (a test stand-in)
    postmaster_page_size: Annotated[int, Field(ge=1, le=200)] = 200
    postmaster_forbidden: bool = False  # answer 403, as for a domain the user cannot see
    postmaster_grant: bool = True  # False: POST /token answers invalid_grant (a revoked key)

    seed: int | None = None

    @field_validator("access_key")
    @classmethod
    def _base64_key(cls, value: SecretStr) -> SecretStr:
        try:
            base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                "must be base64, as ACS access keys are (make one with: "
                "python -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')"
            ) from None
        return value

    @field_validator("sender_domains")
    @classmethod
    def _lowercase_domains(cls, value: list[str]) -> list[str]:
        return [domain.strip().lower() for domain in value if domain.strip()]

    @property
    def key_bytes(self) -> bytes:
        return base64.b64decode(self.access_key.get_secret_value())
