"""``warmup campaign ...``: marketing creates, previews, starts, pauses and reports campaigns."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from warmup.campaigns.ab_test import CampaignABTest
from warmup.campaigns.compose import Composer, unsubscriber_from
from warmup.campaigns.model import CampaignStatus, parse_age, retry_outcomes
from warmup.campaigns.report import campaign_report, export_campaign
from warmup.campaigns.retry import CampaignRetry
from warmup.campaigns.scheduling import CampaignSchedule
from warmup.campaigns.store import CampaignStore
from warmup.commands.context import actor, command_settings, now, open_database
from warmup.commands.output import AsJson, print_json
from warmup.commands.progress import counting
from warmup.content.templates import MessageTemplate
from warmup.domains.store import DomainStore
from warmup.feedback.domain_health import window_counts
from warmup.plans.schedule import usd
from warmup.views.campaigns import ABTestOut, ab_test_view, campaign_view

app = typer.Typer(
    help="Campaigns: create, preview, start, pause, resume, cancel, list, status, export.",
    no_args_is_help=True,
)
console = Console()
Name = Annotated[str, typer.Option("--campaign", "-c", help="Campaign name.")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why: kept in the audit log.")]


def _read(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8") if path is not None else None


@app.command()
def create(
    name: Annotated[str, typer.Option(help="A name for the campaign.")],
    list_name: Annotated[str, typer.Option("--list", help="The recipient list.")],
    sender: Annotated[str, typer.Option("--from", help="Sender address (registered on a domain).")],
    subject: Annotated[str, typer.Option(help="Subject template, e.g. 'Hello {{ first_name }}'.")],
    html: Annotated[Path | None, typer.Option(exists=True, help="HTML body template file.")] = None,
    text: Annotated[
        Path | None, typer.Option(exists=True, help="Plain-text body template file.")
    ] = None,
    reply_to: Annotated[str | None, typer.Option(help="Reply-To address.")] = None,
    priority: Annotated[int, typer.Option(help="Higher goes first on a shared domain.")] = 0,
) -> None:
    """Create a draft; the template is checked against the list now, not at send time."""
    settings = command_settings()
    store = CampaignStore(open_database(settings))
    campaign = store.create(
        name,
        list_name=list_name,
        sender=sender,
        template=MessageTemplate(subject, _read(html), _read(text)),
        actor=actor(settings),
        at=now(),
        reply_to=reply_to,
        priority=priority,
    )
    empty = store.empty_fields(campaign)
    console.print(f"campaign {name} created (draft) for list {list_name}, sender {sender}")
    if text is None and html is not None:
        console.print(
            "no text body given: one was made from the HTML (see: warmup campaign preview)"
        )
    for gap in empty:
        console.print(f"[yellow]warning:[/] {gap}; start refuses unless --allow-empty-fields")
    _warn(store.content_warnings(campaign))


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)


@app.command()
def variant(
    name: Name,
    subject: Annotated[str | None, typer.Option(help="The variant's subject template.")] = None,
    html: Annotated[Path | None, typer.Option(exists=True, help="Its HTML body template.")] = None,
    text: Annotated[Path | None, typer.Option(exists=True, help="Its text body template.")] = None,
    fraction: Annotated[
        float | None,
        typer.Option(help="Share of the list that tests the variants, sent first (default 0.2)."),
    ] = None,
    wait: Annotated[
        str | None,
        typer.Option(help="Wait after the test's last send before picking (default 4h)."),
    ] = None,
) -> None:
    """Add an A/B variant (B, C, D) to a draft: its test group is split evenly between the
    campaign's own message (A) and the variants; the rest goes out with the winner."""
    settings = command_settings()
    added, warnings = CampaignABTest(open_database(settings)).add_variant(
        name,
        subject=subject,
        html=_read(html),
        text=_read(text),
        fraction=fraction,
        wait=parse_age(wait) if wait is not None else None,
        actor=actor(settings),
        at=now(),
    )
    console.print(
        f"campaign {name}: variant {added.label} added; the winner is picked by clicks, then "
        "opens, then delivery (see: warmup campaign status)"
    )
    _warn(warnings)


@app.command()
def preview(
    name: Name,
    to: Annotated[str, typer.Option("--to", help="A recipient of the list to render for.")],
    variant: Annotated[
        str | None, typer.Option(help="An A/B variant's message (A: the campaign's own).")
    ] = None,
) -> None:
    """Render the exact message one recipient would get, headers included."""
    settings = command_settings()
    database = open_database(settings)
    store = CampaignStore(database)
    campaign = store.get(name)
    recipient = store.recipient(campaign, to)
    composer = Composer.for_campaign(campaign, unsubscriber_from(settings), variant)
    message, rendered = composer.compose(recipient.address, recipient.fields)
    console.print(f"[bold]From:[/] {message['senderAddress']}")
    console.print(f"[bold]To:[/] {recipient.address}")
    if campaign.reply_to:
        console.print(f"[bold]Reply-To:[/] {campaign.reply_to}", markup=True, highlight=False)
    for header, value in message.get("headers", {}).items():
        console.print(f"[bold]{header}:[/] {value}", soft_wrap=True)
    console.print(f"[bold]Subject:[/] {rendered.subject}")
    if rendered.text is not None:
        console.rule("text")
        console.print(rendered.text, markup=False, highlight=False)
    if rendered.html is not None:
        console.rule("html")
        console.print(rendered.html, markup=False, highlight=False)
    console.rule(f"{rendered.size_bytes:,} bytes")
    _warn(store.content_warnings(campaign))


@app.command()
def start(
    name: Name,
    allow_empty_fields: Annotated[
        bool, typer.Option(help="Start even if some rows lack a field the template uses.")
    ] = False,
) -> None:
    """Fill the send ledger (most engaged first) and set the campaign running."""
    settings = command_settings()
    database = open_database(settings)
    unsubscriber_from(settings)  # refuse now, not at the first send, if links cannot be signed
    store = CampaignStore(database)
    with Progress(
        TextColumn("filling the ledger"), BarColumn(), MofNCompleteColumn(), transient=True
    ) as bar:
        task = bar.add_task("ledger", total=None)
        rows = store.start(
            name,
            actor=actor(settings),
            at=now(),
            allow_empty_fields=allow_empty_fields,
            progress=lambda done: bar.update(task, completed=done),
        )
    console.print(f"campaign {name} running: {rows:,} recipients in the ledger")
    _warn(store.content_warnings(store.get(name)))


@app.command()
def retry(
    name: Name,
    outcomes: Annotated[
        str,
        typer.Option(help="Outcomes to retry, comma-separated: soft_bounce, failed, unknown."),
    ] = "soft_bounce,failed,unknown",
    after: Annotated[
        str,
        typer.Option(help="Only rows whose outcome is at least this old, e.g. 24h, 2d, 0."),
    ] = "0",
    new_name: Annotated[
        str | None, typer.Option("--name", help="The follow-up's name (default: NAME-retry).")
    ] = None,
) -> None:
    """A draft follow-up campaign for exactly the rows with these outcomes, less every address
    suppressed since; start or schedule it like any campaign."""
    settings = command_settings()
    at = now()
    campaign, rows = CampaignRetry(open_database(settings)).retry(
        name,
        outcomes=retry_outcomes(outcomes),
        settled_before=at - parse_age(after),
        new_name=new_name,
        actor=actor(settings),
        at=at,
    )
    console.print(
        f"campaign {campaign.name} created (draft): {rows:,} recipients of {name} to try again; "
        f"start it with: warmup campaign start -c {campaign.name}"
    )


@app.command()
def schedule(
    name: Name,
    start_at: Annotated[str, typer.Option("--at", help="When to start, e.g. '2026-12-01 09:00'.")],
    tz: Annotated[
        str | None,
        typer.Option(help="Timezone of --at, e.g. Europe/Paris (default: the domain's plan's)."),
    ] = None,
    allow_empty_fields: Annotated[
        bool, typer.Option(help="Start even if some rows lack a field the template uses.")
    ] = False,
) -> None:
    """Start a draft by itself at a time. What would stop the start is refused now."""
    settings = command_settings()
    database = open_database(settings)
    unsubscriber_from(settings)  # refuse now, not at the start, if links cannot be signed
    planner = CampaignSchedule(database)
    when = planner.start_time(name, start_at, tz)
    planner.schedule(
        name, start_at=when, allow_empty_fields=allow_empty_fields, actor=actor(settings), at=now()
    )
    console.print(
        f"campaign {name} starts at {when:%a %Y-%m-%d %H:%M} {when.tzname()} "
        f"({when.astimezone(UTC):%H:%M} UTC); undo with: warmup campaign unschedule -c {name}"
    )
    store = CampaignStore(database)
    _warn(store.content_warnings(store.get(name)))


@app.command()
def unschedule(name: Name) -> None:
    """Take a draft's start time away (it stays a draft)."""
    settings = command_settings()
    CampaignSchedule(open_database(settings)).unschedule(name, actor=actor(settings), at=now())
    console.print(f"campaign {name} is no longer scheduled (draft)")


def _change(name: str, action: str, reason: str) -> None:
    settings = command_settings()
    status = CampaignStore(open_database(settings)).change(
        name, action, actor=actor(settings), reason=reason, at=now()
    )
    console.print(f"campaign {name} {status.value}")


@app.command()
def pause(name: Name, reason: Reason = "paused by marketing") -> None:
    """Stop sending this campaign (other campaigns on the domain go on)."""
    _change(name, "pause", reason)


@app.command()
def resume(name: Name, reason: Reason = "resumed by marketing") -> None:
    """Resume a paused campaign."""
    _change(name, "resume", reason)


@app.command()
def cancel(name: Name, reason: Reason = "cancelled by marketing") -> None:
    """Cancel for good: rows not yet sent are skipped."""
    _change(name, "cancel", reason)


@app.command("list")
def list_campaigns(
    status: Annotated[
        CampaignStatus | None, typer.Option(help="Only campaigns of this status.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Campaigns, newest first: status, progress, sent, failure rate, ETA."""
    database = open_database(command_settings())
    at = now()
    views = [
        campaign_view(database, name, at) for name in CampaignStore(database).names(status, limit)
    ]
    if as_json:
        print_json(views)
        return
    if not views:
        console.print("no campaigns" + (f" {status.value}" if status else "") + " yet")
        return
    table = Table()
    for column in ("campaign", "status", "list", "domain", "progress", "sent", "failures", "ETA"):
        table.add_column(column, justify="right" if column in {"progress", "sent"} else "left")
    for view in views:
        table.add_row(
            view.name,
            view.status,
            view.list,
            view.domain,
            f"{view.progress:.1%}",
            f"{view.sent:,} of {view.rows or view.list_recipients:,}",
            f"{view.health.failure_rate:.2%} of {view.health.reports:,}"
            if view.health.reports
            else "-",
            f"{view.eta:%a %Y-%m-%d}" if view.eta else view.eta_note,
        )
    console.print(table)


@app.command()
def status(
    name: Name,
    message_kb: Annotated[float, typer.Option(help="Average message size for the cost.")] = 50.0,
    as_json: AsJson = False,
) -> None:
    """Counts by ledger state and outcome, the ETA from the domain's ramp, and the ACS cost."""
    database = open_database(command_settings())
    if as_json:
        print_json(campaign_view(database, name, now(), message_kb))
        return
    report = campaign_report(database, name, today=now().date(), message_kb=message_kb)
    size = (
        f"{report.list_recipients:,} recipients on the list, not started"
        if report.status is CampaignStatus.DRAFT
        else f"{report.rows:,} recipients"
    )
    console.print(
        f"campaign [bold]{report.name}[/] ({report.status.value}) — list {report.list_name}, "
        f"domain {report.domain}, {size}"
    )
    table = Table(title="ledger")
    table.add_column("state")
    table.add_column("rows", justify="right")
    for state, count in sorted(report.by_state.items()):
        table.add_row(state, f"{count:,}")
    console.print(table)
    if report.verifying:
        console.print(
            f"{report.verifying:,} rows in doubt (no answer came, or their worker died): ACS is "
            "asked whether it has them before anything is sent again"
        )
    if report.by_outcome:
        console.print(
            "outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_outcome.items()))
        )
    record = DomainStore(database).get(report.domain)
    own = window_counts(database, record, now(), report.campaign_id)
    console.print(
        f"this campaign over the last {record.plan.gates.window_hours} h: failure rate "
        f"{own.failure_rate:.2%}, hard bounces {own.hard_bounce_rate:.2%}, complaints "
        f"{own.complaint_rate:.2%} ({own.total:,} reports)"
    )
    console.print(
        f"ETA: {report.eta:%a %Y-%m-%d} ({report.eta_note})"
        if report.eta
        else f"ETA: - ({report.eta_note})"
    )
    console.print(
        f"ACS cost: {usd(report.cost_so_far)} so far of {usd(report.cost_total)} estimated "
        f"(list price, {report.message_kb:g} KB a message)"
    )
    ab_test = ab_test_view(database, report.campaign_id)
    if ab_test is not None:
        _print_ab_test(ab_test)
    if not report.adds_up:
        console.print("[red]the ledger counts do not add up: please report this[/]")


def _print_ab_test(ab_test: ABTestOut) -> None:
    table = Table(
        title=f"A/B test: {ab_test.test_fraction:.0%} of the list, "
        f"winner {ab_test.wait_hours:g} h after the test's last send"
    )
    for column in ("variant", "subject", "sent", "delivered", "opened", "clicked", "complaints"):
        table.add_column(column, justify="left" if column in {"variant", "subject"} else "right")
    for v in ab_test.variants:
        mark = " (winner)" if v.label == ab_test.winner else ""
        table.add_row(
            v.label + mark,
            v.subject,
            f"{v.sent:,}",
            f"{v.delivered:,}",
            f"{v.opens:,} ({v.open_rate:.1%})",
            f"{v.clicks:,} ({v.click_rate:.1%})",
            f"{v.complaints:,}",
        )
    console.print(table)
    if ab_test.reason:
        console.print(ab_test.reason, markup=False, highlight=False)


@app.command()
def export(
    name: Name,
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
) -> None:
    """One line per recipient: state, outcome, message id, attempts, last error."""
    with counting("exporting") as done:
        count = export_campaign(open_database(command_settings()), name, output, done)
    console.print(f"{count:,} recipients written to {output}")
