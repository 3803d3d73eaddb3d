"""The moment a request leaves: what a sender tells its caller about each attempt.

A sender calls :meth:`Wire.leaving` right before an attempt's message may go to a socket (the
REST request; over SMTP, the DATA of a transaction whose MAIL and RCPT were taken), and
:meth:`Wire.refused` when the attempt came back answered and not accepted (a 429, a 4xx or
5xx, a 451 or 550 reply, a connection lost before DATA), so nothing of it was taken. An
attempt that got no answer leaves its mark: it may have arrived.

``leaving`` may raise :class:`~warmup.errors.NotSent` to keep the attempt from leaving; the
sender passes it up untouched, and the row goes back to ``pending``. The pipeline's
implementation writes the marks to the wire journal (:mod:`warmup.journal`), so a crash
leaves in doubt only the rows whose requests may really have left.
"""

from __future__ import annotations

from typing import Protocol


class Wire(Protocol):
    async def leaving(self) -> None:
        """Right before an attempt may leave; raise ``NotSent`` to keep it back."""

    def refused(self) -> None:
        """The attempt was answered, and not with an acceptance."""
