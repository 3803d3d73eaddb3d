"""DMARC aggregate reports the test suite writes itself (RFC 7489 appendix C's form), as
receivers send them: plain XML, gzip, zip, or attached to a mail."""

from __future__ import annotations

import gzip
import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from xml.sax.saxutils import escape

ACS_SELECTOR = "selector1-azurecomm-prod-net"


@dataclass(frozen=True)
class Row:
    source_ip: str
    count: int
    spf: bool  # SPF passed aligned
    dkim: bool  # DKIM passed aligned
    selector: str | None = ACS_SELECTOR  # the DKIM signature's selector; None: unsigned
    header_from: str = ""  # default: the report's domain


def aggregate_xml(org: str, report_id: str, domain: str, day: date, rows: list[Row],
                  policy: str = "none") -> bytes:  # fmt: skip
    begin = datetime.combine(day, time(), UTC)
    end = begin + timedelta(days=1) - timedelta(seconds=1)
    records = []
    for row in rows:
        sender = row.header_from or domain
        dkim = (
            f"<dkim><domain>{sender}</domain><selector>{row.selector}</selector>"
            f"<result>{'pass' if row.dkim else 'fail'}</result></dkim>"
            if row.selector
            else ""
        )
        spf_domain = sender if row.spf else "elsewhere.test"
        records.append(
            f"<record><row><source_ip>{row.source_ip}</source_ip><count>{row.count}</count>"
            "<policy_evaluated><disposition>none</disposition>"
            f"<dkim>{'pass' if row.dkim else 'fail'}</dkim>"
            f"<spf>{'pass' if row.spf else 'fail'}</spf></policy_evaluated></row>"
            f"<identifiers><header_from>{sender}</header_from></identifiers>"
            f"<auth_results>{dkim}<spf><domain>{spf_domain}</domain>"
            f"<result>{'pass' if row.spf else 'fail'}</result></spf></auth_results></record>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?><feedback><report_metadata>'
        f"<org_name>{escape(org)}</org_name><email>dmarc@{escape(org)}</email>"
        f"<report_id>{escape(report_id)}</report_id><date_range>"
        f"<begin>{int(begin.timestamp())}</begin><end>{int(end.timestamp())}</end>"
        "</date_range></report_metadata><policy_published>"
        f"<domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>{policy}</p>"
        f"<sp>{policy}</sp><pct>100</pct></policy_published>{''.join(records)}</feedback>"
    ).encode()


def gzipped(xml: bytes) -> bytes:
    return gzip.compress(xml)


def zipped(xml: bytes, name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, xml)
    return out.getvalue()


def report_mail(xml: bytes, org: str, domain: str, report_id: str) -> bytes:
    """The mail a receiver sends to the rua address, the report gzipped as its attachment."""
    mail = EmailMessage()
    mail["From"] = f"noreply-dmarc@{org}"
    mail["To"] = f"dmarc@{domain}"
    mail["Subject"] = f"Report domain: {domain} Submitter: {org} Report-ID: <{report_id}>"
    mail.set_content("This is an aggregate report.")
    mail.add_attachment(gzipped(xml), maintype="application", subtype="gzip",
                        filename=f"{org}!{domain}!{report_id}.xml.gz")  # fmt: skip
    return mail.as_bytes()
