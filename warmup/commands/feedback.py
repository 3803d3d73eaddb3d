"""``warmup feedback import``: delivery outcomes from a Log Analytics export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warmup.commands.context import command_settings, now, open_database
from warmup.commands.progress import counting
from warmup.feedback.intake import FeedbackStore, IngestReport
from warmup.feedback.log_analytics import is_message_level, read_rows, to_report
from warmup.feedback.reports import DeliveryReport, ReportError

app = typer.Typer(help="Delivery feedback without Event Grid.", no_args_is_help=True)
CHUNK = 1000


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON export.")],
) -> None:
    """Ingest an export of the ACSEmailStatusUpdateOperational table (CSV or JSON)."""
    settings = command_settings()
    store = FeedbackStore(
        open_database(settings), soft_failures_to_suppress=settings.soft_failures_to_suppress
    )
    totals = IngestReport()
    problems: list[str] = []
    chunk: list[DeliveryReport] = []

    def flush() -> None:
        result = store.ingest(chunk, now())
        for field in ("received", "duplicates", "matched", "unmatched", "ignored", "suppressed"):
            setattr(totals, field, getattr(totals, field) + getattr(result, field))
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
