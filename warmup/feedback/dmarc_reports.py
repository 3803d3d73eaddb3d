"""DMARC aggregate reports (RFC 7489 § 7.2), read with parsedmarc.

parsedmarc reads the forms receivers send: the XML itself, gzip or zip, or the mail message
that carries one as an attachment. It runs offline here: no reverse DNS and no download of IP
databases for each source, so an import is quick and touches no network. What warmup keeps of
each report is :class:`AggregateReport`: who reported, for which days, and per source IP the
count with its SPF and DKIM alignment, and whether the source is ACS's.

A source is ACS's when its mail carried a DKIM signature with one of ACS's selectors
(``selector1-azurecomm-prod-net``, ``selector2-azurecomm-prod-net``: the two CNAMEs a custom
domain publishes for ACS). The signature's selector is reported whether it verified or not, so
ACS's mail that fails DKIM still counts as ACS's, unaligned: what the report is for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from warmup.addresses import domain_key
from warmup.errors import ContentError

ACS_DKIM_SELECTORS = frozenset({"selector1-azurecomm-prod-net", "selector2-azurecomm-prod-net"})
# parsedmarc gives a report's dates as local time in this form.
_PARSEDMARC_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class SourceCount:
    source_ip: str
    messages: int
    header_from: str
    spf_aligned: bool
    dkim_aligned: bool
    aligned: bool  # DMARC passed: SPF or DKIM aligned
    acs: bool  # signed with ACS's DKIM selectors
    disposition: str  # what the receiver did: none, quarantine, reject


@dataclass(frozen=True)
class AggregateReport:
    org_name: str  # the receiver that reported (google.com, Yahoo...)
    report_id: str
    domain: str  # the domain whose policy was applied
    policy: str  # the published p=
    begin_at: datetime
    end_at: datetime
    sources: tuple[SourceCount, ...]

    @property
    def day(self) -> date:
        """The UTC day the report covers (its midpoint: receivers' days are not all UTC's)."""
        return (self.begin_at + (self.end_at - self.begin_at) / 2).astimezone(UTC).date()


def parse_report(data: bytes, name: str = "report") -> AggregateReport | None:
    """One aggregate report from a file's bytes; None for another kind of DMARC report (a
    failure or TLS report). Raises :class:`ContentError` naming the file when it is none."""
    import parsedmarc  # its import takes a while, and only this command needs it

    try:
        parsed = parsedmarc.parse_report_file(data, offline=True)
    except parsedmarc.ParserError as exc:
        raise ContentError(f"{name}: not a DMARC report ({exc})") from None
    if parsed.get("report_type") != "aggregate":
        return None
    return aggregate_report(parsed["report"])


def report_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files named, and every file in the folders named (sorted, hidden ones left out)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif path.is_file():
            yield path
        else:
            raise ContentError(f"{path}: no such file or folder")


def aggregate_report(report: dict[str, Any]) -> AggregateReport:
    """What warmup keeps of one aggregate report as parsedmarc parsed it."""
    meta, published = report["report_metadata"], report["policy_published"]
    return AggregateReport(
        org_name=str(meta["org_name"]),
        report_id=str(meta["report_id"]),
        domain=domain_key(str(published["domain"])),
        policy=str(published.get("p") or "none").lower(),
        begin_at=_utc(meta["begin_date"]),
        end_at=_utc(meta["end_date"]),
        sources=tuple(_source(record) for record in report["records"]),
    )


def _source(record: dict[str, Any]) -> SourceCount:
    alignment = record.get("alignment") or {}
    signatures = (record.get("auth_results") or {}).get("dkim") or []
    return SourceCount(
        source_ip=str(record["source"]["ip_address"]),
        messages=int(record["count"]),
        header_from=domain_key(str(record["identifiers"]["header_from"] or "")),
        spf_aligned=bool(alignment.get("spf")),
        dkim_aligned=bool(alignment.get("dkim")),
        aligned=bool(alignment.get("dmarc")),
        acs=any(str(s.get("selector", "")).lower() in ACS_DKIM_SELECTORS for s in signatures),
        disposition=str((record.get("policy_evaluated") or {}).get("disposition") or "none"),
    )


def _utc(text: str) -> datetime:
    # parsedmarc turns the report's Unix times into the machine's local time: undo that.
    return datetime.strptime(text, _PARSEDMARC_TIME).astimezone(UTC)
