"""What a sending domain's own DNS says beyond ACS's verification states (pure).

ACS verifies that its SPF include, its DKIM keys and a DMARC record exist. Mailbox providers
judge more: an SPF record that needs more than ten DNS lookups is a permanent error
(RFC 7208 § 4.6.4), so SPF fails however many of ACS's addresses it lists; a domain without a
DMARC record is refused as a bulk sender by Gmail and Yahoo; a DMARC record without ``rua``
sends no aggregate reports, so nobody learns whether the domain's mail aligns. What is read
here comes from :mod:`warmup.domains.dns_check`; what it means is decided here.

Problems stop a campaign from starting, as ACS's unverified records do, and the same audited
``--override-auth`` lets ops start anyway. Warnings are shown, never enforced.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

SPF_LOOKUP_LIMIT = 10  # RFC 7208 § 4.6.4: more is a permerror, and SPF fails
ACS_SPF_INCLUDE = "spf.protection.outlook.com"  # what ACS asks a custom domain's SPF to include
POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class DnsPosture:
    """One reading of a domain's SPF, DMARC and MX records."""

    domain: str
    checked_at: datetime
    spf_record: str | None = None
    spf_lookups: int | None = None  # DNS lookups the record needs, includes followed
    spf_error: str | None = None  # no record, a syntax error, too many lookups...
    spf_includes_acs: bool = False
    dmarc_record: str | None = None
    dmarc_location: str | None = None  # the domain whose _dmarc record applies
    dmarc_policy: str | None = None  # none, quarantine, reject
    dmarc_rua: tuple[str, ...] = ()
    dmarc_error: str | None = None
    mx_hosts: tuple[str, ...] = ()

    def column(self) -> str:
        stored = asdict(self)
        stored["checked_at"] = self.checked_at.isoformat()
        return json.dumps(stored)

    @classmethod
    def from_column(cls, text: str | None) -> DnsPosture | None:
        if text is None:
            return None
        stored = json.loads(text)
        stored["checked_at"] = datetime.fromisoformat(stored["checked_at"])
        stored["dmarc_rua"] = tuple(stored.get("dmarc_rua") or ())
        stored["mx_hosts"] = tuple(stored.get("mx_hosts") or ())
        return cls(**stored)


def problems(posture: DnsPosture) -> list[str]:
    """What makes the domain's mail fail authentication at the mailbox: a campaign does not
    start while any is found (unless overridden)."""
    found: list[str] = []
    if posture.spf_record is None:
        found.append(f"SPF: no record ({posture.spf_error or 'none found'})")
    elif posture.spf_lookups is not None and posture.spf_lookups > SPF_LOOKUP_LIMIT:
        found.append(
            f"SPF: {posture.spf_lookups} DNS lookups, over the limit of {SPF_LOOKUP_LIMIT} "
            "(receivers treat it as a permanent error: SPF fails)"
        )
    elif posture.spf_error:
        found.append(f"SPF: {posture.spf_error}")
    if posture.dmarc_record is None:
        found.append(
            "DMARC: no record at _dmarc." + posture.domain + " (Gmail and Yahoo require one "
            "of bulk senders)"
        )
    elif posture.dmarc_error:
        found.append(f"DMARC: {posture.dmarc_error}")
    return found


def warnings(posture: DnsPosture) -> list[str]:
    """What weakens the domain without failing its mail: shown, not enforced."""
    found: list[str] = []
    if posture.spf_record is not None and not posture.spf_includes_acs:
        found.append(f"SPF does not include {ACS_SPF_INCLUDE} (ACS's senders)")
    if posture.dmarc_record is not None and not posture.dmarc_error:
        if posture.dmarc_policy == "none" and not posture.dmarc_rua:
            found.append(
                "DMARC p=none with no rua: no aggregate reports, so nothing shows whether the "
                "domain's mail aligns before the policy is tightened"
            )
        elif not posture.dmarc_rua:
            found.append("DMARC has no rua: no aggregate reports arrive")
    if not posture.mx_hosts:
        found.append("no MX record: some receivers distrust a sending domain that takes no mail")
    return found
