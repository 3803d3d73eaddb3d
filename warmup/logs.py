"""Logging set-up for entry points, with a last line of defence against leaked secrets.

Code never logs secrets on purpose; :class:`RedactSecrets` also scrubs any configured secret
value from every record that reaches a handler, in case a library puts one in a message: as
configured, percent-encoded (as it appears in an access log's URL), and the value of any
secret-looking query parameter (``?code=``, ``?token=``..., also when its name is
percent-encoded) whatever it is. Tracebacks attached to a record are redacted too. Control
characters in a message (newlines, NUL...) are written as escapes: input cannot forge lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote_plus

from pydantic import SecretStr
from pythonjsonlogger.json import JsonFormatter

from warmup.settings import LogFormat, Settings
from warmup.tracing import configure_tracing

REDACTED = "***"
# Query parameters that carry credentials in URLs that servers log, by name once decoded
# (``?%63ode=`` is ``?code=`` to the server that reads it, so it is to the redaction too).
SECRET_PARAMETER_NAMES = frozenset(
    {"code", "token", "access_token", "api_key", "key", "secret", "sig", "signature"}
)
QUERY_PARAMETER = re.compile(r"([?&])([^=&\s\"'?]+)=([^&\s\"']+)")
# Control characters a message may carry from its input (a username sent to the relay, a
# header): written as escapes, so that no input can forge a log line or hide in one.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def _redact_parameter(match: re.Match[str]) -> str:
    sign, name, _value = match.groups()
    if unquote_plus(name).strip().lower() in SECRET_PARAMETER_NAMES:
        return f"{sign}{name}={REDACTED}"
    return match.group()


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        spellings = {
            spelled
            for secret in secrets
            if len(secret) >= 6
            for spelled in (secret, quote(secret, safe=""), quote_plus(secret))
        }
        # Longest first, so a secret that contains another is removed whole.
        self._secrets = sorted(spellings, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return QUERY_PARAMETER.sub(_redact_parameter, text)

    def filter(self, record: logging.LogRecord) -> bool:
        # The message is one line, whatever its arguments held; a traceback keeps its lines.
        message = CONTROL.sub(_escape, self.redact(record.getMessage()))
        record.msg, record.args = message, None
        if record.exc_info:
            # Format the traceback now, redacted, and keep only the text.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self.redact(text), None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def secret_values(settings: Settings) -> list[str]:
    values = [
        value.get_secret_value()
        for value in settings.__dict__.values()
        if isinstance(value, SecretStr)
    ]
    # Each webhook secret on its own: the access log shows the one a call used (?code=...).
    values += settings.webhook_secret_values()
    # A driver error may quote the database password on its own, without the rest of the URL.
    _, _, authority = settings.database_url.get_secret_value().partition("://")
    credentials, at, _ = authority.rpartition("@")
    password = credentials.partition(":")[2] if at else ""
    return [*values, password] if password else values


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format is LogFormat.JSON:
        # Redaction runs before formatting (a filter), so JSON lines are redacted too.
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


NOISY_AT_INFO = ("azure", "alembic")
# Celery's "received" and "succeeded" lines for the periodic ticks (the dispatcher every second,
# feedback every two, housekeeping every five): thousands of lines an hour that say nothing
# changed. A send batch's lines stay, and any failure is logged at ERROR.
TICK_TASKS = ("warmup.dispatch", "warmup.feedback", "warmup.reconcile")
CELERY_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy")


class QuietTicks(logging.Filter):
    """Drops Celery's INFO lines about the periodic tick tasks (not at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not any(f"Task {name}[" in message for name in TICK_TASKS)


def configure_logging(settings: Settings, extra_secrets: Iterable[str] = ()) -> None:
    """Logging for every process (CLI, API, workers, beat), and traces when configured."""
    configure_tracing(settings.otel_endpoint)
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(settings.log_format))
    handler.addFilter(RedactSecrets([*secret_values(settings), *extra_secrets]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # uvicorn's loggers go through the handler above (and its redaction), whatever configured
    # them before: `warmup api` runs uvicorn with log_config=None for the same reason.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
        server_logger.disabled = False
        server_logger.setLevel(logging.NOTSET)  # the root's level decides
    # azure-core logs each request at INFO: kept for debugging, as are the ticks' task lines.
    debugging = root.level <= logging.DEBUG
    quiet = logging.NOTSET if debugging else max(logging.WARNING, root.level)
    for noisy in NOISY_AT_INFO:
        logging.getLogger(noisy).setLevel(quiet)
    # azure-identity warns once per credential of a chain that found nothing (a dozen lines
    # before the one error the command then states itself).
    logging.getLogger("azure.identity").setLevel(
        logging.NOTSET if debugging else max(logging.ERROR, root.level)
    )
    for name in CELERY_TASK_LOGGERS:
        task_logger = logging.getLogger(name)
        task_logger.filters[:] = [f for f in task_logger.filters if not isinstance(f, QuietTicks)]
        if not debugging:
            task_logger.addFilter(QuietTicks())


class _AiosmtpdDeprecation(logging.Filter):
    """aiosmtpd warns on every AUTH that a field it sets itself is deprecated."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


def quiet_aiosmtpd() -> None:
    """The relay's and the emulator's SMTP logs: warnings and errors only (aiosmtpd logs every
    connection at INFO), without its per-login deprecation warning."""
    logger = logging.getLogger("mail.log")
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, _AiosmtpdDeprecation) for f in logger.filters):
        logger.addFilter(_AiosmtpdDeprecation())
