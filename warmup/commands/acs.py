"""``warmup acs``: ops' Azure-side tasks through the resource manager, with the credentials
sending uses (see warmup/management/client.py for which)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from warmup.commands.console import make_console, print_table
from warmup.commands.context import actor, command_settings, now, open_stores
from warmup.commands.output import AsJson, print_json
from warmup.commands.relay import warn_if_long_for_devices
from warmup.control.authentication import unauthenticated
from warmup.domains.record import Authentication
from warmup.domains.store import UnknownDomainError
from warmup.errors import TransitionError
from warmup.management.client import AcsResources, management_client
from warmup.management.resources import AzureResources
from warmup.suppression.acs_sync import sync_suppressions

app = typer.Typer(
    help="Azure-side tasks: sender usernames, SMTP usernames, domain verification.",
    no_args_is_help=True,
)
sender_app = typer.Typer(help="Sender usernames (MailFrom addresses) of a domain.")
smtp_app = typer.Typer(help="SMTP usernames for devices and apps, tied to an Entra app.")
domain_app = typer.Typer(help="A domain as ACS sees it.")
app.add_typer(sender_app, name="sender", no_args_is_help=True)
app.add_typer(smtp_app, name="smtp-username", no_args_is_help=True)
app.add_typer(domain_app, name="domain", no_args_is_help=True)
console = make_console()
Domain = Annotated[str, typer.Argument(help="The Email Service domain, e.g. mail.example.com.")]


def _azure() -> AzureResources:
    settings = command_settings()
    return AzureResources(management_client(settings), AcsResources.from_settings(settings))


@sender_app.command("add")
def add_sender(
    domain: Domain,
    username: Annotated[str, typer.Argument(help="The part before @, e.g. news.")],
    display_name: Annotated[str, typer.Option(help="The name recipients see.")] = "",
) -> None:
    """Create the sender username in ACS and register the address with the warmup domain."""
    made = _azure().add_sender(domain, username, display_name or username)
    address = made.address(domain)
    settings = command_settings()
    store = open_stores(settings).domains
    try:
        store.add_sender(domain, address, actor=actor(settings), at=now())
        registered = "; registered with the warmup domain"
    except UnknownDomainError:
        registered = " (no warmup domain of that name: add it with `warmup domain add`)"
    except TransitionError:
        registered = "; the warmup domain had it already"
    console.print(f"sender {address} ({made.display_name}) created in ACS{registered}")


@sender_app.command("list")
def list_senders(domain: Domain, as_json: AsJson = False) -> None:
    """The domain's sender usernames in ACS."""
    found = _azure().senders(domain)
    if as_json:
        print_json(found)
        return
    table = Table("address", "display name")
    for sender in found:
        table.add_row(sender.address(domain), sender.display_name)
    print_table(console, table)


@sender_app.command("remove")
def remove_sender(domain: Domain, username: Annotated[str, typer.Argument()]) -> None:
    """Delete the sender username in ACS and take the address off the warmup domain
    (campaigns using it can no longer start)."""
    _azure().remove_sender(domain, username)
    address = f"{username}@{domain}"
    settings = command_settings()
    try:
        removed = open_stores(settings).domains.remove_sender(
            domain, address, actor=actor(settings), at=now()
        )
        registered = (
            "; taken off the warmup domain" if removed else " (the warmup domain did not have it)"
        )
    except UnknownDomainError:
        registered = " (no warmup domain of that name)"
    console.print(f"sender {address} removed from ACS{registered}")


@smtp_app.command("add")
def add_smtp_username(
    username: Annotated[str, typer.Argument(help="The login devices will use.")],
    app_id: Annotated[str, typer.Option(help="The Entra application (client) id.")],
    tenant_id: Annotated[str, typer.Option(help="The Entra tenant id.")],
) -> None:
    """Create an SMTP username linked to an Entra app: devices log in with it and the app's
    client secret, instead of the long <resource>.<app id>.<tenant id> form."""
    warn_if_long_for_devices(username)
    made = _azure().add_smtp_username(username, app_id, tenant_id)
    console.print(f"SMTP username {made.username} created for app {made.app_id}")


@smtp_app.command("list")
def list_smtp_usernames(as_json: AsJson = False) -> None:
    """The Communication Service's SMTP usernames."""
    found = _azure().smtp_usernames()
    if as_json:
        print_json(found)
        return
    table = Table("username", "Entra app", "tenant")
    for entry in found:
        table.add_row(entry.username, entry.app_id, entry.tenant_id)
    print_table(console, table)


@smtp_app.command("remove")
def remove_smtp_username(username: Annotated[str, typer.Argument()]) -> None:
    """Delete the SMTP username: devices using it can no longer log in."""
    _azure().remove_smtp_username(username)
    console.print(f"SMTP username {username} removed")


@domain_app.command("check")
def check_domain(domain: Domain, as_json: AsJson = False) -> None:
    """Read the domain's verification states (Domain, SPF, DKIM, DKIM2, DMARC) and keep them
    with the warmup domain: campaigns do not start while SPF, DKIM or DMARC is unverified.
    Exit 1 when one of those is not verified."""
    checked = _azure().check_domain(domain)
    unverified = unauthenticated(checked.states)
    settings = command_settings()
    found = Authentication(checked.management, checked.states, now())
    try:
        open_stores(settings).domains.set_authentication(
            domain, found, actor=actor(settings), unverified=unverified
        )
        kept = True
    except UnknownDomainError:
        kept = False
    if as_json:
        print_json({**vars(checked), "unverified": unverified, "kept": kept})
    else:
        table = Table(f"{domain} ({checked.management})", "status")
        for record, status in checked.states.items():
            table.add_row(record, status)
        print_table(console, table)
        if unverified:
            console.print(f"not ready for bulk mail: {', '.join(unverified)}")
        if not kept:
            console.print("(no warmup domain of that name: nothing kept)")
    if unverified:
        raise typer.Exit(1)


suppression_app = typer.Typer(help="ACS's suppression list of a domain.")
app.add_typer(suppression_app, name="suppression", no_args_is_help=True)


@suppression_app.command("sync")
def sync_suppression(
    domain: Domain,
    max_writes: Annotated[
        int,
        typer.Option(min=1, help="ACS writes this run at most (the resource manager's limits)."),
    ] = 1000,
) -> None:
    """Keep warmup's suppressions and the domain's `warmup` suppression list in ACS in step,
    both ways. Idempotent: a second run changes nothing."""
    settings = command_settings()
    report = sync_suppressions(
        _azure(),
        open_stores(settings).suppressions,
        domain,
        actor=actor(settings),
        at=now(),
        max_writes=max_writes,
    )
    console.print(
        f"{domain}: {report.pushed:,} put on ACS's list, {report.pulled:,} suppressed in "
        f"warmup, {report.removed:,} taken off ACS's list"
        + (f"; {report.invalid:,} unreadable addresses on ACS's list" if report.invalid else "")
        + (f"; {report.left:,} left for the next run" if report.left else "")
    )
