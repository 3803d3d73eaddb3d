"""Delivery reports pulled from Log Analytics, for teams that have diagnostic settings but no
Event Grid subscription (``warmup feedback pull``, or the beat task).

The only writer of ``feedback_watermarks``. Each run queries ``ACSEmailStatusUpdateOperational``
from the stored watermark (the last row's ``TimeGenerated`` and ``_ItemId``), oldest first, a
page at a time, and hands the rows to the same intake as the webhook, so a report is kept once
whichever way it came, and its time is ``TimeGenerated``. Rows reach a workspace minutes after
their ``TimeGenerated``, so each run starts ``OVERLAP`` before the watermark (the intake drops
what it has already) and stops ``INGESTION_LAG`` before now. A watermark older than the
workspace's retention is moved up to what the workspace still has, and the run says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from warmup.errors import ConfigError
from warmup.feedback.intake import FeedbackStore, IngestReport
from warmup.feedback.log_analytics import (
    ENGAGEMENT_COLUMNS,
    ENGAGEMENT_TABLE,
    REQUIRED,
    STATUS_TABLE,
    TABLE_COLUMNS,
    is_message_level,
    log_time,
    to_engagement,
    to_report,
)
from warmup.feedback.reports import ReportError
from warmup.store.database import Database, dialect_insert
from warmup.store.models import FeedbackWatermark

PAGE = 10_000  # well under the query API's 500,000 rows and 64 MB a result
OVERLAP = timedelta(minutes=15)
INGESTION_LAG = timedelta(minutes=2)
RETENTION = timedelta(days=30)  # the workspace default; older rows are gone
FIRST_LOOK_BACK = timedelta(days=1)  # the first run, without --since
# One page of the table: the query → rows as {column: value}.
Query = Callable[[str], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class LogTable:
    name: str
    columns: tuple[str, ...]
    # Without these a row cannot be placed (the watermark) or matched to its send.
    needed: tuple[str, ...] = ()


POSITION = ("TimeGenerated", "_ItemId")
# delivery outcomes
STATUS = LogTable(STATUS_TABLE, TABLE_COLUMNS, (*POSITION, *REQUIRED))
# opens and clicks
ENGAGEMENT = LogTable(
    ENGAGEMENT_TABLE,
    ENGAGEMENT_COLUMNS,
    (*POSITION, "CorrelationId", "RecipientEmailAddress", "EngagementType"),
)
TABLES = (STATUS, ENGAGEMENT)


@dataclass(frozen=True)
class Position:
    at: datetime
    item: str = ""


@dataclass
class PullReport:
    pages: int = 0
    rows: int = 0
    skipped: int = 0  # message-level rows, no outcome
    refused: int = 0  # rows the intake cannot read
    ingest: IngestReport = field(default_factory=IngestReport)
    notes: list[str] = field(default_factory=list)
    position: Position | None = None


def _kql(table: LogTable, after: Position, until: datetime, page: int) -> str:
    def instant(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    tie = (
        f' or (TimeGenerated == datetime({instant(after.at)}) and _ItemId > "{after.item}")'
        if after.item
        else ""
    )
    return (
        f"{table.name}\n"
        f"| where TimeGenerated > datetime({instant(after.at)}){tie}\n"
        f"| where TimeGenerated <= datetime({instant(until)})\n"
        f"| project {', '.join(table.columns)}\n"
        "| order by TimeGenerated asc, _ItemId asc\n"
        f"| take {page}"
    )


class LogPull:
    def __init__(self, database: Database, intake: FeedbackStore) -> None:
        self._db = database
        self._intake = intake

    def watermark(self, source: str) -> Position | None:
        with self._db.session() as session:
            found = session.get(FeedbackWatermark, source)
            return None if found is None else Position(found.position_at, found.position_item)

    def _save(self, source: str, position: Position, at: datetime) -> None:
        values = {"position_at": position.at, "position_item": position.item, "updated_at": at}
        with self._db.session() as session:
            session.execute(
                dialect_insert(session)(FeedbackWatermark)
                .values(source=source, **values)
                .on_conflict_do_update(index_elements=["source"], set_=values)
            )

    def run(
        self,
        workspace: str,
        query: Query,
        now: datetime,
        *,
        table: LogTable = STATUS,
        since: datetime | None = None,
        page: int = PAGE,
        lag: timedelta = INGESTION_LAG,
        progress: Callable[[int], None] | None = None,
    ) -> PullReport:
        source = f"log-analytics:{workspace}/{table.name}"
        report = PullReport()
        stored = self.watermark(source)
        if since is not None:
            after = Position(since)
        elif stored is not None:
            after = Position(stored.at - OVERLAP)
        else:
            after = Position(now - FIRST_LOOK_BACK)
            report.notes.append(f"first pull: from {after.at:%Y-%m-%d %H:%M} UTC")
        oldest = now - RETENTION
        if after.at < oldest:
            report.notes.append(
                f"the watermark ({after.at:%Y-%m-%d %H:%M} UTC) is older than the workspace's "
                f"retention ({RETENTION.days} days): reports before "
                f"{oldest:%Y-%m-%d %H:%M} UTC are gone; reading from there"
            )
            after = Position(oldest)
        until = now - lag
        while True:
            rows = query(_kql(table, after, until, page))
            _check_columns(table, rows)
            report.pages += 1
            report.rows += len(rows)
            self._ingest(table, rows, now, report)
            if rows:
                last = rows[-1]
                after = Position(_position_time(last), str(last["_ItemId"]))
                self._save(source, after, now)
                report.position = after
            if progress is not None:
                progress(report.rows)
            if len(rows) < page:
                return report

    def _ingest(
        self,
        table: LogTable,
        rows: Sequence[Mapping[str, Any]],
        now: datetime,
        report: PullReport,
    ) -> None:
        reports, engagements = [], []
        for row in rows:
            if table is STATUS and is_message_level(row):
                report.skipped += 1
                continue
            try:
                if table is STATUS:
                    reports.append(to_report(row))
                else:
                    engagements.append(to_engagement(row))
            except ReportError:
                report.refused += 1
        report.ingest.add(self._intake.ingest(reports, now, engagements))


def _check_columns(table: LogTable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse, before anything is stored, rows that lack a column the pull needs: a table
    renamed or changed by Microsoft, or a workspace that exports it otherwise."""
    if not rows:
        return
    missing = [column for column in table.needed if column not in rows[0]]
    if missing:
        raise ConfigError(
            f"Log Analytics answered {table.name} rows without the column "
            f"{', '.join(missing)} (it gave: {', '.join(sorted(rows[0])) or 'none'}); nothing "
            "was stored. Has the table's schema changed?"
        )


def _position_time(row: Mapping[str, Any]) -> datetime:
    found = log_time(row.get("TimeGenerated"))
    if found is None:
        raise ReportError(f"a row without a readable TimeGenerated: {row.get('TimeGenerated')!r}")
    return found
