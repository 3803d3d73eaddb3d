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
from warmup.control.dns_posture import DnsPosture
from warmup.domains.dns_check import DnsUnreachableError, read_posture, resolver_for
from warmup.domains.record import Authentication
from warmup.domains.store import UnknownDomainError
from warmup.errors import TransitionError
from warmup.management.client import AcsResources, management_client
from warmup.management.resources import AzureResources, DomainCheck
from warmup.suppression.acs_sync import sync_suppressions
from warmup.views.domains import DnsPostureOut, dns_posture_out

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
def check_domain(
    domain: Domain,
    dns_only: Annotated[
        bool,
        typer.Option(
            "--dns-only", help="Read only the domain's own DNS (SPF, DMARC, MX): no Azure needed."
        ),
    ] = False,
    nameserver: Annotated[
        list[str] | None,
        typer.Option(
            help="A nameserver to ask (IP or IP:PORT); repeat for more. "
            "Default: WARMUP_DNS_NAMESERVERS, else the system's resolvers."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Read the domain's verification states in ACS (Domain, SPF, DKIM, DKIM2, DMARC) and its
    own DNS (SPF's lookup count, DMARC's policy and rua, MX), and keep both with the warmup
    domain. Campaigns do not start while ACS finds SPF, DKIM or DMARC unverified, or DNS shows
    an SPF record over ten lookups or no DMARC record. Exit 1 when one of those is found."""
    settings = command_settings()
    checked = None if dns_only else _azure().check_domain(domain)
    resolver = resolver_for(nameserver or settings.dns_nameserver_list())
    unverified = unauthenticated(checked.states) if checked is not None else []
    try:
        posture = read_posture(domain, resolver, now())
    except DnsUnreachableError:
        if checked is not None:  # what ACS said is still worth keeping
            _keep(domain, checked, unverified, None)
        raise
    kept = _keep(domain, checked, unverified, posture)
    dns = dns_posture_out(posture)
    assert dns is not None
    if as_json:
        # As before the DNS was read, plus "dns"; with --dns-only ACS's fields are null.
        acs = vars(checked) if checked is not None else {"management": None, "states": None}
        print_json({"domain": domain, **acs, "unverified": unverified, "dns": dns, "kept": kept})
    else:
        if checked is not None:
            table = Table(f"{domain} in ACS ({checked.management})", "status")
            for record, status in checked.states.items():
                table.add_row(record, status)
            print_table(console, table)
        _print_dns(domain, dns)
        if unverified:
            console.print(f"not ready for bulk mail: {', '.join(unverified)} (ACS)")
        for problem in dns.problems:
            console.print(f"not ready for bulk mail: {problem}")
        for warning in dns.warnings:
            console.print(f"warning: {warning}")
        if not kept:
            console.print("(no warmup domain of that name: nothing kept)")
    if unverified or dns.problems:
        raise typer.Exit(1)


def _keep(
    domain: str, checked: DomainCheck | None, unverified: list[str], posture: DnsPosture | None
) -> bool:
    """Keep what was read with the warmup domain of that name; False when there is none."""
    settings = command_settings()
    domains = open_stores(settings).domains
    try:
        if checked is not None:
            found = Authentication(checked.management, checked.states, now())
            domains.set_authentication(domain, found, actor=actor(settings), unverified=unverified)
        if posture is not None:
            domains.set_dns_posture(domain, posture, actor=actor(settings))
    except UnknownDomainError:
        return False
    return True


def _print_dns(domain: str, dns: DnsPostureOut) -> None:
    table = Table(f"{domain} in DNS", "found")
    lookups = f" ({dns.spf_lookups} of 10 lookups)" if dns.spf_lookups is not None else ""
    table.add_row("SPF", (dns.spf_record or "none") + lookups)
    policy = f"p={dns.dmarc_policy}" if dns.dmarc_policy else "none"
    rua = f", rua {', '.join(dns.dmarc_rua)}" if dns.dmarc_rua else ", no rua"
    table.add_row("DMARC", policy + (rua if dns.dmarc_record else ""))
    table.add_row("MX", ", ".join(dns.mx_hosts) or "none")
    print_table(console, table)


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
