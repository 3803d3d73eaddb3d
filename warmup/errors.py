"""Every error the warmup library raises on purpose derives from :class:`WarmupError`.

The tree::

    WarmupError
    ├── ConfigError              a setting is missing or invalid (names the WARMUP_* variable)
    │   ├── SchemaError          the database's schema is older than the code (run db upgrade)
    │   └── NotFoundError        a named thing (domain, list, campaign, token) does not exist
    ├── PlanError                a ramp plan is invalid (carries every problem found)
    ├── TransitionError          an ops action that does not apply to the domain's state now
    │   └── ConflictError        a name already taken, or a thing that changed meanwhile
    ├── ContentError             a template that does not compile, render or fit its list
    ├── NotSent                  a request held back before it could leave: nothing reached ACS
    └── SendError                one ACS send did not succeed (carries its classification)
        ├── ThrottledError       429: ACS asked us to wait (``retry_after`` seconds)
        ├── TransientSendError   5xx, connection refused/reset: safe to retry
        ├── AmbiguousSendError   the request left, no answer came: ask ACS before posting again
        └── PermanentSendError   400/401/403/404/413: retrying cannot help
            └── TransportSetupError  credentials refused, no STARTTLS: no message can go

Messages never contain secrets (access keys, connection strings, client secrets): errors are
shown to operators and written to logs, so the code that raises them builds the text from
non-secret parts only.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AmbiguousSendError",
    "ConfigError",
    "ContentError",
    "NotFoundError",
    "NotSent",
    "PermanentSendError",
    "PlanError",
    "SendError",
    "ThrottledError",
    "TransientSendError",
    "TransitionError",
    "TransportSetupError",
    "WarmupError",
]


class WarmupError(Exception):
    """Base class of every error raised on purpose by warmup."""


class ConfigError(WarmupError):
    """A setting is missing or invalid. The message names the environment variable."""


class SchemaError(ConfigError):
    """The database's schema is older than this code needs (or empty)."""


class NotFoundError(ConfigError):
    """A domain, list, campaign or token named by the caller does not exist."""


class PlanError(WarmupError):
    """A ramp plan is invalid. ``problems`` lists each one with its file, field path and line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class ContentError(WarmupError):
    """A message template is broken, unsafe, or uses fields its list does not have."""


class NotSent(WarmupError):
    """A request was held back right before it would have left (a throttle, a pause, a lease
    taken back, the wire journal out of reach): nothing of it reached ACS, so its row goes
    back to ``pending`` with this reason. Not a :class:`SendError`: there was no attempt."""


class TransitionError(WarmupError):
    """An ops action that does not apply now (resume a domain that is not paused, say)."""


class ConflictError(TransitionError):
    """The user's input meets what is stored: a name already taken, or a thing that changed
    since it was read. Not a setting (``configuration error``): the CLI says ``invalid:`` and
    exits 1, the API answers 409."""


class SendError(WarmupError):
    """An ACS send did not succeed.

    ``status`` is the HTTP status when there was a response; ``code`` the ACS error code
    (``x-ms-error-code`` or the body's ``error.code``).
    """

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        self.status = status
        self.code = code
        super().__init__(message)


class ThrottledError(SendError):
    """ACS answered 429. ``retry_after`` is the wait it asked for, in seconds, when it said one."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        status: int | None = 429,
        code: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, code=code)


class TransientSendError(SendError):
    """A 5xx answer or a connection that failed before the request was sent: retry with backoff."""

    retryable = True


class AmbiguousSendError(SendError):
    """The request may have reached ACS (a read timeout, a dropped response).

    Not retried blindly: whether ACS de-duplicates a repeated Operation-Id is undocumented, so
    the sender first asks ACS (``GET /emails/operations/{id}``) and posts again only when ACS
    does not know the id.
    """

    retryable = False


class PermanentSendError(SendError):
    """ACS rejected the request for a reason a retry cannot fix."""


class TransportSetupError(PermanentSendError):
    """The way to ACS is misconfigured, not the message: SMTP credentials refused (``535``), or
    a server that offers no STARTTLS (credentials are never sent in clear). Every message would
    fail alike, so the pipeline gives its rows back and pauses the domain with this reason."""
