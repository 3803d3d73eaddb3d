"""``warmup postmaster pull|report``: Gmail Postmaster Tools' daily stats, and the gate on them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from warmup.commands.console import make_console, print_table
from warmup.commands.context import command_settings, now, open_stores
from warmup.commands.output import AsJson, print_json
from warmup.errors import NotFoundError

app = typer.Typer(
    help="Gmail Postmaster Tools: pull each day's stats, see them and the gate's verdicts.",
    no_args_is_help=True,
)
console = make_console()


def _percent(value: float | None) -> str:
    from warmup.control.evidence import pct

    return pct(value) if value is not None else "-"


@app.command("pull")
def pull_days(
    domain: Annotated[
        str | None, typer.Argument(help="One sending domain; without it, every domain.")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=120, help="Days back to ask for.")] = 10,
) -> None:
    """Keep each day Google has published and warmup has not kept yet (a day is kept once).
    The gate judges them when the next day closes. Needs WARMUP_POSTMASTER_CREDENTIALS_FILE."""
    from warmup.addresses import domain_key
    from warmup.feedback.postmaster_pull import client_for, describe, pull

    settings = command_settings()
    stores = open_stores(settings)
    if domain is not None:
        names = [stores.domains.get(domain_key(domain)).state.domain]
    else:
        names = [record.state.domain for record in stores.domains.all()]
    client = client_for(settings)
    try:
        at = now()
        report = pull(client, stores.postmaster, names, at.date(), at, days)
    finally:
        client.close()
    for line in describe(report):
        console.print(line)
    if domain is not None and report.not_registered:
        raise typer.Exit(1)


@app.command("report")
def report(
    domain: Annotated[str, typer.Argument(help="The sending domain.")],
    days: Annotated[int, typer.Option(min=1, max=120, help="Days to show.")] = 30,
    as_json: AsJson = False,
) -> None:
    """Each kept day: spam rate with Google's interval, reputation, authentication, and what
    the plan's gate makes of it."""
    from warmup.addresses import domain_key
    from warmup.views.postmaster import postmaster_summary

    stores = open_stores(command_settings())
    record = stores.domains.get(domain_key(domain))
    view = postmaster_summary(
        stores.postmaster, record.plan.postmaster, record.state, now().date(), days
    )
    if view is None:
        if as_json:
            raise NotFoundError(f"no Postmaster Tools day kept for {record.state.domain}")
        console.print(
            f"no Postmaster Tools day kept for {record.state.domain}: run `warmup postmaster pull`"
        )
        return
    if as_json:
        print_json(view)
        return
    console.print(
        f"{view.domain}: spam hold {_percent(view.spam_hold_line)}, pause "
        f"{_percent(view.spam_pause_line)}, acting on {view.acts_on}; last judged "
        f"{view.last_judged.isoformat() if view.last_judged else 'never'}"
    )
    table = Table("day", "spam", "interval", "reputation", "SPF", "DKIM", "DMARC", "gate")
    for day in view.days:
        interval = (
            f"{_percent(day.spam_lower)}–{_percent(day.spam_upper)}"
            if day.spam_lower is not None and day.spam_upper is not None
            else "-"
        )
        table.add_row(
            day.day.isoformat(),
            _percent(day.spam_ratio),
            interval,
            day.reputation or "-",
            _percent(day.spf_ratio),
            _percent(day.dkim_ratio),
            _percent(day.dmarc_ratio),
            day.verdict,
        )
    print_table(console, table)
    for warning in view.warnings:
        console.print(f"warning: {warning}")
