"""Whether a domain's mail is authenticated enough for bulk sending (pure).

Gmail and Yahoo require bulk senders to authenticate with SPF, DKIM and DMARC; ACS verifies
each record of a custom domain. A campaign does not start on a domain whose last check found
one of them not verified, unless ops override it with a reason. A domain never checked is not
judged here: the check is a command (``warmup acs domain check``), run when Azure is reachable.
"""

from __future__ import annotations

from collections.abc import Mapping

REQUIRED = ("SPF", "DKIM", "DMARC")
VERIFIED = "Verified"


def unauthenticated(states: Mapping[str, str]) -> list[str]:
    """The required records that are not verified, each with its state: ``["DKIM
    (VerificationFailed)"]``; empty when the domain may send bulk mail."""
    return [
        f"{record} ({states.get(record, 'unknown')})"
        for record in REQUIRED
        if states.get(record) != VERIFIED
    ]
