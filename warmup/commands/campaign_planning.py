"""``warmup campaign variant|schedule|unschedule|retry``: what marketing decides about a draft
before it goes out (an A/B test, a start time) and after (a follow-up for the rows that did
not get through). Registered on the ``campaign`` command group by :mod:`warmup.commands.campaign`.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warmup.campaigns.compose import unsubscriber_from
from warmup.campaigns.model import parse_age, retry_outcomes
from warmup.commands.campaign_common import Name, console, read_file, warn
from warmup.commands.console import print_table
from warmup.commands.context import actor, command_settings, now, open_stores
from warmup.control.machine import duration_words
from warmup.views.campaigns import ABTestOut


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
    added, warnings = open_stores(settings).ab_tests.add_variant(
        name,
        subject=subject,
        html=read_file(html),
        text=read_file(text),
        fraction=fraction,
        wait=parse_age(wait) if wait is not None else None,
        actor=actor(settings),
        at=now(),
    )
    console.print(
        f"campaign {name}: variant {added.label} added; the winner is picked by clicks, then "
        "opens, then delivery (see: warmup campaign status)"
    )
    warn(warnings)


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
    """A draft follow-up for the rows with these outcomes (less addresses suppressed since)."""
    settings = command_settings()
    at = now()
    campaign, rows = open_stores(settings).retries.retry(
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
    stores = open_stores(settings)
    unsubscriber_from(settings)  # refuse now, not at the start, if links cannot be signed
    planner = stores.schedule
    when = planner.start_time(name, start_at, tz)
    planner.schedule(
        name, start_at=when, allow_empty_fields=allow_empty_fields, actor=actor(settings), at=now()
    )
    console.print(
        f"campaign {name} starts at {when:%a %Y-%m-%d %H:%M} {when.tzname()} "
        f"({when.astimezone(UTC):%H:%M} UTC); undo with: warmup campaign unschedule -c {name}"
    )
    store = stores.campaigns
    warn(store.content_warnings(store.get(name)))


def unschedule(name: Name) -> None:
    """Take a draft's start time away (it stays a draft)."""
    settings = command_settings()
    open_stores(settings).schedule.unschedule(name, actor=actor(settings), at=now())
    console.print(f"campaign {name} is no longer scheduled (draft)")


def print_ab_test(ab_test: ABTestOut) -> None:
    table = Table(
        title=f"A/B test: {ab_test.test_fraction:.0%} of the list, "
        f"winner {duration_words(timedelta(hours=ab_test.wait_hours))} after the test's last send"
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
    print_table(console, table)
    if ab_test.reason:
        console.print(ab_test.reason, markup=False, highlight=False)
