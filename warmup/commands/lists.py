"""``warmup lists import|show``: marketing's recipient lists."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from warmup.commands.console import make_console, print_table
from warmup.commands.context import actor, command_settings, now, open_database
from warmup.commands.output import AsJson, print_json
from warmup.content.page_languages import PAGE_LANGUAGES
from warmup.lists.importer import ImportOptions, ListImporter, delete_list
from warmup.views.lists import ListDetailOut, all_lists, list_detail_out

app = typer.Typer(
    help="Recipient lists: import CSV files, see what is there.", no_args_is_help=True
)
console = make_console(stderr=True)


@app.command("import")
def import_list(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV file.")],
    name: Annotated[str, typer.Option(help="List name; an existing list is appended to.")],
    encoding: Annotated[
        str | None, typer.Option(help="The file's encoding if not UTF-8 (e.g. cp1252).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="Field delimiter (default: detected).")
    ] = None,
    email_column: Annotated[
        str | None, typer.Option(help="Column with the address (default: 'email' or similar).")
    ] = None,
    rejected: Annotated[
        Path | None,
        typer.Option(help="Rejected-rows report (default: <file>.rejected.csv here)."),
    ] = None,
    check_mx: Annotated[bool, typer.Option(help="Also check each domain's MX in DNS.")] = False,
    update: Annotated[
        bool,
        typer.Option(
            help="Members already on the list take the file's fields (else they are rejected "
            "as already in the list)."
        ),
    ] = False,
    language: Annotated[
        list[str] | None,
        typer.Option(
            help="A language the list's recipients read (en, fr, de, es; repeat, or commas): "
            "their unsubscribe pages come in these only, the first when the browser asks for "
            "none of them. Given on a re-import, it replaces what the list declared."
        ),
    ] = None,
) -> None:
    """Import a CSV into a list: validated, de-duplicated, suppressed addresses left out."""
    settings = command_settings()
    database = open_database(settings)
    report_path = rejected or Path(f"{file.stem}.rejected.csv")
    total = file.stat().st_size
    with Progress(
        TextColumn("importing {task.fields[rows]:,} rows"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=total, rows=0)
        report = ListImporter(database).run(
            file,
            name,
            options=ImportOptions(
                encoding,
                delimiter,
                email_column,
                check_mx,
                update,
                tuple(language) if language is not None else None,
            ),
            rejected_path=report_path,
            actor=actor(settings),
            at=now(),
            progress=lambda done, rows: bar.update(task, completed=done, rows=rows),
        )
    verb = "appended to" if report.appended else "created"
    typer.echo(
        f"list {report.list_name} {verb}: {report.imported:,} imported"
        + (f", {report.updated:,} updated" if update else "")
        + f" of {report.rows:,} rows in {report.seconds:.1f} s "
        f"({report.rows_per_second:,.0f} rows/s)"
    )
    typer.echo(
        f"rejected {report.rejected:,}: {report.invalid:,} invalid, "
        f"{report.duplicates:,} duplicates, {report.suppressed:,} suppressed"
        + (f"; report: {report.rejected_path}" if report.rejected_path else "")
    )
    typer.echo(
        f"encoding {report.encoding}, delimiter {report.delimiter!r}, "
        f"fields: {', '.join(report.fields) or 'none'}"
    )
    typer.echo(
        "sending order: most engaged first, by " + ", ".join(report.ordering_columns)
        if report.ordering_columns
        else "sending order: the file's (no engagement column: "
        "engagement, engagement_score, score, last_engaged_at, last_opened_at…)"
    )


@app.command()
def show(
    name: Annotated[str | None, typer.Argument(help="One list, in detail.")] = None,
    sample: Annotated[int, typer.Option(min=0, max=50, help="Rows to show of it.")] = 5,
    as_json: AsJson = False,
) -> None:
    """Every list with its size and personalisation fields; or one list: each field's fill
    and its first rows by engagement."""
    database = open_database(command_settings())
    if name is not None:
        _show_one(list_detail_out(database, name, sample), as_json)
        return
    lists = all_lists(database)
    if as_json:
        print_json(lists)
        return
    table = Table()
    for column in ("list", "recipients", "fields", "languages", "created", "by"):
        table.add_column(column)
    for item in lists:
        table.add_row(
            item.name,
            f"{item.recipients:,}",
            ", ".join(item.fields),
            ", ".join(item.languages) or "any",
            f"{item.created_at:%Y-%m-%d %H:%M}",
            item.created_by,
        )
    print_table(make_console(), table)


@app.command()
def delete(name: Annotated[str, typer.Argument(help="The list to delete.")]) -> None:
    """Delete a list and its recipients (refused while a campaign uses it)."""
    settings = command_settings()
    count = delete_list(open_database(settings), name, actor=actor(settings), at=now())
    typer.echo(f"list {name} deleted with its {count:,} recipients")


def _show_one(detail: ListDetailOut, as_json: bool) -> None:
    if as_json:
        print_json(detail)
        return
    console = make_console()
    console.print(
        f"list {detail.name}: {detail.recipients:,} recipients, created "
        f"{detail.created_at:%Y-%m-%d %H:%M} by {detail.created_by}"
    )
    console.print(
        "pages (unsubscribe) in: "
        + (
            ", ".join(detail.languages)
            if detail.languages
            else f"any of {', '.join(PAGE_LANGUAGES)} (no language declared)"
        )
    )
    fill = Table(title="fields")
    for column in ("field", "filled", "empty"):
        fill.add_column(column, justify="left" if column == "field" else "right")
    for item in detail.fill:
        fill.add_row(item.field, f"{item.filled:,}", f"{item.empty:,}")
    console.print(fill)
    rows = Table(title=f"first {len(detail.sample)} rows by engagement")
    columns = ["address", *detail.fields]
    for column in columns:
        rows.add_column(column)
    for row in detail.sample:
        rows.add_row(*(str(row.get(column, "")) for column in columns))
    console.print(rows)
