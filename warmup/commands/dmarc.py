"""``warmup dmarc import|report``: DMARC aggregate reports, and what they say of a domain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warmup.commands.console import make_console, print_table
from warmup.commands.context import command_settings, now, open_stores
from warmup.commands.output import AsJson, print_json
from warmup.errors import ContentError

app = typer.Typer(
    help="DMARC aggregate reports: import them (files, or the rua mailbox), see alignment.",
    no_args_is_help=True,
)
console = make_console()


@app.command("import")
def import_reports(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Report files (XML, .gz, .zip, or the mail carrying one), or folders."),
    ],
) -> None:
    """Keep each aggregate report once (by reporter and report id): importing a folder again
    adds only what is new. A file that is not a DMARC report is named and skipped; exit 1 if
    any was."""
    from warmup.feedback.dmarc_reports import parse_report, report_files

    store = open_stores(command_settings()).dmarc
    added = kept = other = 0
    problems: list[str] = []
    for path in report_files(paths):
        try:
            report = parse_report(path.read_bytes(), str(path))
        except ContentError as exc:
            problems.append(str(exc))
            continue
        if report is None:
            other += 1
        elif store.add(report, now()):
            added += 1
        else:
            kept += 1
    console.print(
        f"{added:,} aggregate reports added, {kept:,} already kept"
        + (f", {other:,} of another kind (failure or TLS) skipped" if other else "")
    )
    for problem in problems:
        console.print(f"skipped {problem}")
    if problems:
        raise typer.Exit(1)


@app.command("pull")
def pull() -> None:
    """Keep every aggregate report in the mailbox the domain's rua address delivers to
    (WARMUP_DMARC_IMAP_*), then move each message to the archive folder. Beat runs this every
    WARMUP_DMARC_IMAP_MINUTES when set."""
    from warmup.feedback.dmarc_mailbox import pull_mailbox

    settings = command_settings()
    found = pull_mailbox(settings, open_stores(settings).dmarc, now())
    console.print(
        f"{found.added:,} aggregate reports added, {found.already_kept:,} already kept"
        + (
            f", {found.other_kinds:,} of another kind (failure or TLS) skipped"
            if found.other_kinds
            else ""
        )
    )


@app.command("report")
def report(
    domain: Annotated[str, typer.Argument(help="The sending domain (the From header's).")],
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of reports to read.")] = 30,
    as_json: AsJson = False,
) -> None:
    """The aligned share of ACS's mail, the sources that are not ACS's, and when the policy
    could move from none to quarantine to reject."""
    from warmup.addresses import domain_key
    from warmup.views.dmarc import dmarc_report

    view = dmarc_report(
        open_stores(command_settings()).dmarc, domain_key(domain), now().date(), days
    )
    if as_json:
        print_json(view)
        return
    if not view.days:
        console.print(f"no aggregate report about {view.domain} since {view.since}")
        return
    share = f"{view.acs_aligned_share:.2%}" if view.acs_aligned_share is not None else "-"
    console.print(
        f"{view.domain} since {view.since}: ACS's mail {view.acs_messages:,}, aligned {share}; "
        f"other sources {view.other_messages:,} ({view.other_unaligned:,} unaligned); "
        f"reported by {', '.join(view.reporters)}"
    )
    if view.next_policy is not None:
        console.print(f"policy p={view.next_policy.current}: {view.next_policy.words}")
    for warning in view.warnings:
        console.print(f"warning: {warning}")
    if view.other_sources:
        table = Table("source IP (not ACS)", "messages", "aligned", "receivers")
        for source in view.other_sources:
            table.add_row(
                source.source_ip,
                f"{source.messages:,}",
                f"{source.aligned:,}",
                str(source.reporters),
            )
        print_table(console, table)
