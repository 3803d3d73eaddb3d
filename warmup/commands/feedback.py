"""``warmup feedback import|pull``: delivery outcomes from a Log Analytics export, or pulled
from the workspace's query API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from warmup.commands.context import command_settings, now, open_stores
from warmup.commands.progress import counting
from warmup.errors import ConfigError
from warmup.feedback.intake import IngestReport
from warmup.feedback.log_analytics import is_message_level, read_rows, to_report
from warmup.feedback.pull import (
    INGESTION_LAG,
    PAGE,
    STATUS,
    TABLES,
    LogPull,
    LogTable,
    PullReport,
)
from warmup.feedback.reports import DeliveryReport, ReportError
from warmup.settings import env_name

app = typer.Typer(help="Delivery feedback without Event Grid.", no_args_is_help=True)
CHUNK = 1000


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON export.")],
) -> None:
    """Ingest an export of the ACSEmailStatusUpdateOperational table (CSV or JSON)."""
    settings = command_settings()
    store = open_stores(settings).feedback
    totals = IngestReport()
    problems: list[str] = []
    chunk: list[DeliveryReport] = []

    def flush() -> None:
        totals.add(store.ingest(chunk, now()))
        chunk.clear()

    skipped = 0
    with counting("importing reports, rows read:") as done:
        for line, row in read_rows(file):
            if is_message_level(row):
                skipped += 1
                continue
            try:
                chunk.append(to_report(row))
            except ReportError as exc:
                problems.append(f"line {line}: {exc}")
                continue
            if len(chunk) >= CHUNK:
                flush()
                done(line)
        flush()
    typer.echo(
        f"{totals.received:,} reports: {totals.matched:,} matched to sends, {totals.unmatched:,} "
        f"not (yet) matched, {totals.duplicates:,} already known, "
        f"{totals.ignored:,} without outcome; "
        f"{totals.suppressed:,} addresses suppressed; {len(problems):,} rows refused"
        + (f"; {skipped:,} message-level rows skipped" if skipped else "")
    )
    for problem in problems[:20]:
        typer.echo(f"  {problem}", err=True)
    if problems and not totals.received:
        raise typer.Exit(1)  # nothing in the file could be used


@app.command("pull")
def pull(
    workspace_id: Annotated[
        str | None,
        typer.Option(
            help="The Log Analytics workspace (default: WARMUP_LOG_ANALYTICS_WORKSPACE_ID)."
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="Read from this UTC time instead of the stored watermark."),
    ] = None,
    page_size: Annotated[int, typer.Option(min=100, max=100_000, help="Rows a query.")] = PAGE,
    lag_seconds: Annotated[
        float,
        typer.Option(
            min=0, help="Leave the newest seconds for the next pull: rows reach a workspace late."
        ),
    ] = INGESTION_LAG.total_seconds(),
) -> None:
    """Pull delivery reports from ACSEmailStatusUpdateOperational in Log Analytics, from where
    the last pull stopped, through the same intake as the webhook (each kept once)."""
    from warmup.management.logs import LogsQuery

    settings = command_settings()
    workspace = workspace_id or settings.log_analytics_workspace_id
    if not workspace:
        raise ConfigError(
            f"no workspace: pass --workspace-id or set {env_name('log_analytics_workspace_id')}"
        )
    stores = open_stores(settings)
    query = LogsQuery(settings, workspace)
    pull = LogPull(stores.database, stores.feedback)
    start = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    try:
        for table in TABLES:
            with counting(f"pulling {table.name}, rows read:") as done:
                report = pull.run(
                    workspace,
                    query,
                    now(),
                    table=table,
                    since=start,
                    page=page_size,
                    lag=timedelta(seconds=lag_seconds),
                    progress=done,
                )
            _say_pulled(table, report)
    finally:
        query.close()


def _say_pulled(table: LogTable, report: PullReport) -> None:
    for note in report.notes:
        typer.echo(f"note: {table.name}: {note}", err=True)
    totals = report.ingest
    fresh = totals.received - totals.duplicates
    what = (
        f"new reports ({totals.matched:,} matched to sends)"
        if table is STATUS
        else "new opens and clicks"
    )
    typer.echo(
        f"{table.name}: {report.rows:,} rows in {report.pages} page(s): {fresh:,} {what}, "
        f"{totals.duplicates:,} already known; {report.skipped:,} message-level rows skipped, "
        f"{report.refused:,} refused"
        + (f"; read up to {report.position.at:%Y-%m-%d %H:%M:%S} UTC" if report.position else "")
    )
