"""DMARC aggregate reports as kept: the owner of ``dmarc_reports`` and ``dmarc_sources``.

A receiver may send the same report twice (a retried mail, an import run again over the same
folder): a report is known by its reporter and its id, and kept once. Reads are per sending
domain, by the From header's domain of each source (a subdomain's mail is reported under its
organisational domain's policy, but its rows name the subdomain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select

from warmup.control.alignment import AlignmentDay
from warmup.feedback.dmarc_reports import AggregateReport
from warmup.store.database import Database, dialect_insert
from warmup.store.models import DmarcReport, DmarcSource


@dataclass(frozen=True)
class DmarcImport:
    added: int
    already_kept: int
    other_kinds: int = 0  # failure or TLS reports, which carry no counts to keep


@dataclass(frozen=True)
class OtherSource:
    """A source that is not ACS's, over the days asked about."""

    source_ip: str
    messages: int
    aligned: int
    reporters: int  # how many receivers saw it


class DmarcStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, report: AggregateReport, at: datetime) -> bool:
        """Keep a report unless it is kept already; True when it was new."""
        with self._db.engine.begin() as connection:
            inserted = connection.execute(
                dialect_insert(connection)(DmarcReport)
                .values(
                    org_name=report.org_name,
                    report_id=report.report_id,
                    domain=report.domain,
                    policy=report.policy,
                    begin_at=report.begin_at,
                    end_at=report.end_at,
                    day=report.day,
                    imported_at=at,
                )
                .on_conflict_do_nothing(index_elements=["org_name", "report_id"])
                .returning(DmarcReport.id)
            ).scalar()
            if inserted is None:
                return False
            if report.sources:
                connection.execute(
                    dialect_insert(connection)(DmarcSource),
                    [
                        {
                            "report_id": inserted,
                            "source_ip": s.source_ip,
                            "messages": s.messages,
                            "header_from": s.header_from,
                            "spf_aligned": s.spf_aligned,
                            "dkim_aligned": s.dkim_aligned,
                            "aligned": s.aligned,
                            "acs": s.acs,
                            "disposition": s.disposition,
                        }
                        for s in report.sources
                    ],
                )
            return True

    def days(self, domain: str, since: date) -> list[AlignmentDay]:
        """The domain's mail per reported day from ``since`` on, every receiver summed."""
        acs_only = case((DmarcSource.acs, DmarcSource.messages), else_=0)
        other_only = case((DmarcSource.acs, 0), else_=DmarcSource.messages)
        aligned = case((DmarcSource.aligned, DmarcSource.messages), else_=0)
        query = (
            select(
                DmarcReport.day,
                func.sum(acs_only),
                func.sum(case((DmarcSource.acs, aligned), else_=0)),
                func.sum(other_only),
                func.sum(case((DmarcSource.acs, 0), else_=aligned)),
            )
            .join(DmarcReport, DmarcReport.id == DmarcSource.report_id)
            .where(DmarcSource.header_from == domain, DmarcReport.day >= since)
            .group_by(DmarcReport.day)
            .order_by(DmarcReport.day)
        )
        with self._db.session() as session:
            return [
                AlignmentDay(day, int(a or 0), int(aa or 0), int(o or 0), int(oa or 0))
                for day, a, aa, o, oa in session.execute(query)
            ]

    def other_sources(self, domain: str, since: date, limit: int = 20) -> list[OtherSource]:
        """The sources that are not ACS's that sent as the domain, the busiest first."""
        query = (
            select(
                DmarcSource.source_ip,
                func.sum(DmarcSource.messages),
                func.sum(case((DmarcSource.aligned, DmarcSource.messages), else_=0)),
                func.count(func.distinct(DmarcReport.org_name)),
            )
            .join(DmarcReport, DmarcReport.id == DmarcSource.report_id)
            .where(
                DmarcSource.header_from == domain,
                DmarcSource.acs.is_(False),
                DmarcReport.day >= since,
            )
            .group_by(DmarcSource.source_ip)
            .order_by(func.sum(DmarcSource.messages).desc(), DmarcSource.source_ip)
            .limit(limit)
        )
        with self._db.session() as session:
            return [
                OtherSource(str(ip), int(n or 0), int(a or 0), int(r or 0))
                for ip, n, a, r in session.execute(query)
            ]

    def policy(self, domain: str) -> str | None:
        """The DMARC policy the newest report about the domain's mail saw published."""
        query = (
            select(DmarcReport.policy)
            .join(DmarcSource, DmarcSource.report_id == DmarcReport.id)
            .where(DmarcSource.header_from == domain)
            .order_by(DmarcReport.end_at.desc(), DmarcReport.id.desc())
            .limit(1)
        )
        with self._db.session() as session:
            return session.scalar(query)

    def reporters(self, domain: str, since: date) -> Sequence[str]:
        query = (
            select(DmarcReport.org_name)
            .join(DmarcSource, DmarcSource.report_id == DmarcReport.id)
            .where(DmarcSource.header_from == domain, DmarcReport.day >= since)
            .distinct()
        )
        with self._db.session() as session:
            # Sorted here: backends' collations order "Yahoo" and "google.com" differently.
            return sorted(session.scalars(query), key=str.lower)
