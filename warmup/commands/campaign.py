"""``warmup campaign ...``: marketing creates, previews, starts, pauses and reports campaigns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from warmup.campaigns.compose import Composer, unsubscriber_from
from warmup.campaigns.drafts import clone, delete_draft
from warmup.campaigns.model import CampaignStatus
from warmup.campaigns.report import campaign_report, export_campaign
from warmup.commands import campaign_planning as planning
from warmup.commands.audit_table import print_audit
from warmup.commands.campaign_common import Name, Reason, console, read_file, warn
from warmup.commands.console import print_table, rule
from warmup.commands.context import (
    actor,
    command_settings,
    now,
    open_database,
    open_stores,
)
from warmup.commands.output import AsJson, print_json, written
from warmup.commands.progress import counting
from warmup.content.templates import MessageTemplate
from warmup.feedback.domain_health import window_counts
from warmup.plans.schedule import usd
from warmup.views.campaigns import ab_test_view, campaign_view
from warmup.views.recovery import budget_for, describe
from warmup.wiring import status_limiter

app = typer.Typer(
    help="Campaigns: create, preview, start, pause, resume, cancel, list, status, export; "
    "A/B variants, schedule, retry.",
    no_args_is_help=True,
)


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
    store = open_stores(settings).campaigns
    campaign = store.create(
        name,
        list_name=list_name,
        sender=sender,
        template=MessageTemplate(subject, read_file(html), read_file(text)),
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
    warn(store.content_warnings(campaign))


@app.command()
def edit(
    name: Name,
    list_name: Annotated[str | None, typer.Option("--list", help="Another recipient list.")] = None,
    sender: Annotated[str | None, typer.Option("--from", help="Another sender address.")] = None,
    subject: Annotated[str | None, typer.Option(help="A new subject template.")] = None,
    html: Annotated[Path | None, typer.Option(exists=True, help="A new HTML body file.")] = None,
    text: Annotated[
        Path | None, typer.Option(exists=True, help="A new plain-text body file.")
    ] = None,
    reply_to: Annotated[str | None, typer.Option(help="A new Reply-To address.")] = None,
    priority: Annotated[int | None, typer.Option(help="A new priority.")] = None,
) -> None:
    """Change a draft (scheduled or not): what is not given stays; checked as at create."""
    settings = command_settings()
    store = open_stores(settings).campaigns
    changed = store.edit(
        name,
        actor=actor(settings),
        at=now(),
        list_name=list_name,
        sender=sender,
        subject=subject,
        html=read_file(html),
        text=read_file(text),
        reply_to=reply_to,
        priority=priority,
    )
    console.print(f"campaign {name}: {', '.join(changed) or 'nothing'} changed")
    campaign = store.get(name)
    for gap in store.empty_fields(campaign):
        console.print(f"[yellow]warning:[/] {gap}; start refuses unless --allow-empty-fields")
    warn(store.content_warnings(campaign))


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
    store = open_stores(settings).campaigns
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
        rule(console, "text")
        console.print(rendered.text, markup=False, highlight=False)
    if rendered.html is not None:
        rule(console, "html")
        console.print(rendered.html, markup=False, highlight=False)
    rule(console, f"{rendered.size_bytes:,} bytes")
    warn(store.content_warnings(campaign))


@app.command("audit")
def audit_log(
    name: Name, limit: Annotated[int, typer.Option(min=1, help="Entries to show.")] = 20
) -> None:
    """The campaign's audit log, newest first: its changes, overrides and test sends."""
    store = open_stores(command_settings()).campaigns
    print_audit(console, name, store.audit(name, limit))


@app.command("test")
def trial(
    name: Name,
    to: Annotated[str, typer.Option("--to", help="Where to send it: your own address.")],
    as_member: Annotated[
        str | None,
        typer.Option(
            "--as", help="The member of the list to render it for (default: the first to send)."
        ),
    ] = None,
    variant: Annotated[
        str | None, typer.Option(help="An A/B variant's message (A: the campaign's own).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the message's final status.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the status.")] = 120.0,
) -> None:
    """Send the campaign's own message, rendered for one member of its list, to yourself.
    It takes a permit under the domain's caps and is kept in the campaign's audit log, not in
    its figures; its unsubscribe links unsubscribe nobody."""
    from warmup.commands.campaign_trial import send_campaign_test

    settings = command_settings()
    status = send_campaign_test(
        settings, open_stores(settings), name, to=to, as_member=as_member, variant=variant,
        wait=wait, timeout=timeout,
    )  # fmt: skip
    if status not in {"Accepted", "Succeeded"}:
        raise typer.Exit(1)


@app.command()
def start(
    name: Name,
    allow_empty_fields: Annotated[
        bool, typer.Option(help="Start even if some rows lack a field the template uses.")
    ] = False,
    override_auth: Annotated[
        str | None,
        typer.Option(
            help="Start although ACS found the domain's SPF, DKIM or DMARC not verified: the "
            "reason, kept in the audit log."
        ),
    ] = None,
) -> None:
    """Fill the send ledger (most engaged first) and set the campaign running.

    The fill goes in chunks with a progress bar; nothing is sent until it is complete. If this
    command is stopped, run it again to go on where it was (workers' housekeeping also resumes
    a fill left alone for WARMUP_FILL_STALL_SECONDS)."""
    settings = command_settings()
    stores = open_stores(settings)
    unsubscriber_from(settings)  # refuse now, not at the first send, if links cannot be signed
    store = stores.campaigns
    resuming = store.get(name).status == CampaignStatus.STARTING.value
    with Progress(
        TextColumn("resuming the fill" if resuming else "filling the ledger"),
        BarColumn(),
        MofNCompleteColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("ledger", total=None)
        rows = store.start(
            name,
            actor=actor(settings),
            at=now(),
            now=now,
            allow_empty_fields=allow_empty_fields,
            progress=lambda fill: bar.update(task, completed=fill.done, total=fill.total),
            auth_override=override_auth,
        )
    status = store.get(name).status
    console.print(f"campaign {name} {status}: {rows:,} recipients in the ledger")
    warn(store.content_warnings(store.get(name)))


def _change(name: str, action: str, reason: str) -> None:
    settings = command_settings()
    status = open_stores(settings).campaigns.change(
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


@app.command()
def delete(name: Name) -> None:
    """Delete a draft (scheduled or not); its name is free again."""
    settings = command_settings()
    delete_draft(open_database(settings), name, actor=actor(settings), at=now())
    console.print(f"campaign {name} deleted")


@app.command("clone")
def clone_campaign(
    name: Name,
    new_name: Annotated[str, typer.Option("--name", help="The new draft's name.")],
) -> None:
    """A new draft with this campaign's list, sender, message and A/B variants."""
    settings = command_settings()
    stores = open_stores(settings)
    copy = clone(
        stores.database, stores.campaigns.get(name), new_name, actor=actor(settings), at=now()
    )
    console.print(f"campaign {copy.name} created as a draft, a copy of {name}")


@app.command("list")
def list_campaigns(
    status: Annotated[
        CampaignStatus | None, typer.Option(help="Only campaigns of this status.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Campaigns, newest first: status, progress, sent, failure rate, ETA."""
    stores = open_stores(command_settings())
    at = now()
    views = [campaign_view(stores, name, at) for name in stores.campaigns.names(status, limit)]
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
    print_table(console, table)


@app.command()
def status(
    name: Name,
    message_kb: Annotated[float, typer.Option(help="Average message size for the cost.")] = 50.0,
    as_json: AsJson = False,
) -> None:
    """Counts by ledger state and outcome, the ETA from the domain's ramp, and the ACS cost."""
    settings = command_settings()
    stores = open_stores(settings)
    database = stores.database
    at = now()
    limiter = status_limiter(settings)
    try:
        view = campaign_view(stores, name, at, message_kb, budget_for(settings, limiter, at))
    finally:
        if limiter is not None:
            limiter.close()
    if as_json:
        print_json(view)
        return
    report = campaign_report(database, stores.domains, name, today=at.date(), message_kb=message_kb)
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
    print_table(console, table)
    if report.verifying:
        console.print(
            f"{report.verifying:,} rows in doubt (no answer came, or their worker died while "
            "they were on the wire): ACS is asked whether it has them before anything is sent "
            "again"
        )
    for line in describe(view.recovery):
        console.print(line)
    if report.opened or report.clicked:
        console.print(
            f"engagement: {report.opened:,} opened ({report.open_rate:.1%} of delivered, a weak "
            f"signal: privacy features open mail), {report.clicked:,} clicked "
            f"({report.click_rate:.1%})"
        )
    if report.by_outcome:
        console.print(
            "outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(report.by_outcome.items()))
        )
    record = stores.domains.get(report.domain)
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
    ab_test = ab_test_view(stores, report.campaign_id)
    if ab_test is not None:
        planning.print_ab_test(ab_test)
    if not report.adds_up:
        console.print("[red]the ledger counts do not add up: please report this[/]")


@app.command()
def export(
    name: Name,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="CSV file to write (- for standard output).")
    ],
) -> None:
    """One line per recipient: state, outcome, message id, attempts, last error."""
    with counting("exporting") as done:
        count = export_campaign(open_database(command_settings()), name, output, done)
    written(count, "recipients", output)


# The planning verbs live in their own module; registered here, on the same group.
app.command()(planning.variant)
app.command()(planning.schedule)
app.command()(planning.unschedule)
app.command()(planning.retry)
