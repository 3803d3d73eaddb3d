"""``warmup domain ...``: ops' commands for sending domains, recorded in the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from warmup.commands.advice import quota_advice_text
from warmup.commands.audit_table import print_audit
from warmup.commands.console import make_console, print_table
from warmup.commands.context import (
    actor,
    command_settings,
    now,
    open_stores,
)
from warmup.commands.output import AsJson, print_json
from warmup.control.caps import AcsQuota
from warmup.control.evidence import pct
from warmup.control.idle import quiet_start
from warmup.control.machine import Decision
from warmup.domains.actions import OpsRequest, act
from warmup.domains.record import DomainRecord
from warmup.domains.store import DomainStore
from warmup.feedback.readiness import readiness
from warmup.plans.loader import load_plan
from warmup.plans.model import ACS_DEFAULT_PER_HOUR, ACS_DEFAULT_PER_MINUTE, ProviderGroup
from warmup.plans.presets import plan_file
from warmup.sending.transport import Transport
from warmup.views.dmarc import DmarcSummaryOut
from warmup.views.domains import DnsPostureOut, domain_report, domain_view
from warmup.views.postmaster import PostmasterDayOut, PostmasterOut
from warmup.views.recovery import budget_for, describe
from warmup.wiring import status_limiter

app = typer.Typer(
    help="Sending domains: status, hold, resume, steps, plans, quota.", no_args_is_help=True
)
console = make_console()
Domain = Annotated[str, typer.Argument(help="The sending domain, e.g. mail.example.com.")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why: kept in the audit log.")]


def _store() -> tuple[DomainStore, str]:
    settings = command_settings()
    return open_stores(settings).domains, actor(settings)


def _report(decision: Decision) -> None:
    for transition in decision.transitions:
        console.print(f"{transition.domain}: {transition.describe()}")
    if not decision.transitions:
        console.print("nothing changed")


def _caps(record: DomainRecord) -> str:
    step = record.plan.step(record.state.step)
    minute = f"{step.per_minute:,}/min, " if step.per_minute else ""
    return f"{minute}{step.per_hour:,}/hour, {step.per_day:,}/day"


TransportOption = Annotated[
    Transport,
    typer.Option(
        help="How the mail reaches ACS: rest (the Email REST API) or smtp (smtp.azurecomm.net)."
    ),
]


@app.command()
def add(
    name: Domain,
    plan: Annotated[
        Path, typer.Option(help="Ramp plan to start on: a YAML file or a preset's name.")
    ],
    sender: Annotated[
        list[str] | None, typer.Option(help="Sender address on this domain (repeatable).")
    ] = None,
    acs_per_minute: Annotated[
        int, typer.Option(min=1, help="The subscription's ACS quota per minute today.")
    ] = ACS_DEFAULT_PER_MINUTE,
    acs_per_hour: Annotated[
        int, typer.Option(min=1, help="The subscription's ACS quota per hour today.")
    ] = ACS_DEFAULT_PER_HOUR,
    transport: TransportOption = Transport.REST,
) -> None:
    """Register a sending domain and start its warm-up on a plan."""
    store, who = _store()
    plan = plan_file(plan)
    loaded = load_plan(plan)
    record = store.create(
        name,
        loaded,
        plan.read_text(encoding="utf-8"),
        quota=AcsQuota(acs_per_minute, acs_per_hour),
        senders=sender or [],
        actor=who,
        at=now(),
        transport=transport,
    )
    console.print(
        f"{record.state.domain}: warming up on plan {loaded.name}, step 0 ({_caps(record)}); "
        f"senders: {', '.join(record.senders) or 'none yet'}; sends over {transport.value}"
    )
    if quiet := quiet_start(loaded, record.quota, now()):
        console.print(f"[yellow]note:[/] {quiet}", highlight=False)


@app.command()
def status(
    name: Annotated[str | None, typer.Argument(help="One domain (default: all).")] = None,
    as_json: AsJson = False,
) -> None:
    """Where each domain stands: plan, step, caps, status, and why it is not sending now."""
    settings = command_settings()
    stores = open_stores(settings)
    store = stores.domains
    records = [store.get(name)] if name else store.all()
    at = now()
    limiter = status_limiter(settings)
    try:
        budget = budget_for(settings, limiter, at)
        views = [domain_view(stores, record, at, limiter, budget) for record in records]
    finally:
        if limiter is not None:
            limiter.close()
    if as_json:
        print_json(views[0] if name else views)
        return
    if not records:
        console.print("no sending domains yet (add one with: warmup domain add)")
        return
    table = Table()
    for column in ("domain", "plan", "step", "caps", "status", "sending now", "reason", "days"):
        table.add_column(column)
    for record, view in zip(records, views, strict=True):
        state = record.state
        since = f" since {state.since:%Y-%m-%d %H:%M} UTC" if state.since else ""
        table.add_row(
            state.domain,
            record.plan.name,
            f"{state.step}/{record.plan.last_step}",
            _caps(record),
            f"{state.status.value}{since}",
            view.sending.reason,
            "\n".join(
                [
                    state.reason,
                    *(
                        hold.describe(record.plan.gates_for(hold.group).probe_share)
                        for hold in state.provider_holds
                    ),
                ]
            ),
            f"{state.sending_days} sending, {state.healthy_days_at_step} healthy at step",
        )
    print_table(console, table)
    if name:
        record = records[0]
        console.print(
            f"ACS quota {record.quota.per_minute:,}/min, {record.quota.per_hour:,}/hour "
            f"× headroom {record.plan.quota.headroom:g}; "
            f"senders: {', '.join(record.senders) or 'none'}; sends over {record.transport}; "
            f"relayed rows waiting: {views[0].relay_waiting:,}"
        )
        for line in describe(views[0].recovery):
            console.print(line)
        checked = views[0].authentication
        if checked is None:
            console.print("authentication: not checked (warmup acs domain check)")
        else:
            states = ", ".join(f"{k} {v}" for k, v in checked.states.items())
            verdict = (
                f"; campaigns refused: {', '.join(checked.unverified)}"
                if checked.unverified
                else ""
            )
            console.print(
                f"authentication ({checked.management}, {checked.checked_at:%Y-%m-%d %H:%M}): "
                f"{states}{verdict}"
            )
        _print_dns(views[0].dns)
        _print_dmarc(views[0].dmarc)
        _print_postmaster(views[0].postmaster)
        for entry in store.audit(name, limit=5):
            console.print(
                f"  {entry.at:%Y-%m-%d %H:%M} {entry.action} by {entry.actor}: {entry.reason}"
            )


def _print_dns(dns: DnsPostureOut | None) -> None:
    if dns is None:
        console.print("DNS: not read (warmup acs domain check --dns-only)")
        return
    spf = f"SPF {dns.spf_lookups} of 10 lookups" if dns.spf_record else "no SPF"
    dmarc = f"DMARC p={dns.dmarc_policy}" if dns.dmarc_record else "no DMARC"
    rua = f" rua {', '.join(dns.dmarc_rua)}" if dns.dmarc_rua else ""
    console.print(
        f"DNS ({dns.checked_at:%Y-%m-%d %H:%M}): {spf}, {dmarc}{rua}, "
        f"MX {', '.join(dns.mx_hosts) or 'none'}"
    )
    for problem in dns.problems:
        console.print(f"  campaigns refused: {problem}")
    for warning in dns.warnings:
        console.print(f"  warning: {warning}")


def _print_dmarc(dmarc: DmarcSummaryOut | None) -> None:
    if dmarc is None:
        console.print("DMARC reports: none in 14 days (warmup dmarc import)")
        return
    share = dmarc.acs_aligned_share_7_days
    aligned = f"{share:.1%} of ACS's mail aligned" if share is not None else "no ACS mail"
    console.print(
        f"DMARC reports (7 days to {dmarc.last_day}): {aligned}, "
        f"{dmarc.other_unaligned_7_days:,} unaligned from other sources"
        + (f"; {dmarc.next_policy}" if dmarc.next_policy else "")
    )
    for warning in dmarc.warnings:
        console.print(f"  warning: {warning}")


def _print_postmaster_day(day: PostmasterDayOut | None) -> None:
    if day is None:
        console.print("Gmail Postmaster Tools: no day kept (warmup postmaster pull)")
        return
    spam = "no spam rate"
    if day.spam_ratio is not None:
        bounds = (
            f" ({pct(day.spam_lower, bare=True)}–{pct(day.spam_upper)})"
            if day.spam_lower is not None and day.spam_upper is not None
            else ""
        )
        spam = f"spam {pct(day.spam_ratio)}{bounds}"
    console.print(
        f"Gmail Postmaster Tools {day.day}: {spam}, reputation {day.reputation or 'none'}; "
        f"gate: {day.verdict}"
    )


def _print_postmaster(postmaster: PostmasterOut | None) -> None:
    _print_postmaster_day(postmaster.last if postmaster is not None else None)
    if postmaster is None:
        return
    judged = postmaster.last_judged.isoformat() if postmaster.last_judged else "none yet"
    console.print(f"  judged at day close through {judged}; acts on {postmaster.acts_on}")
    for warning in postmaster.warnings:
        console.print(f"  warning: {warning}")


def _act(name: str, action: str, reason: str, **extra: Any) -> None:
    store, who = _store()
    _report(act(store, name, action, OpsRequest(actor=who, reason=reason, at=now(), **extra)))


@app.command()
def hold(name: Domain, reason: Reason) -> None:
    """Stop the domain advancing; it keeps sending at its current step."""
    _act(name, "hold", reason)


@app.command()
def release(
    name: Domain,
    reason: Reason = "released by ops",
    provider: Annotated[
        ProviderGroup | None,
        typer.Option(
            help="Let one provider group's traffic go again (held or paused by its gates)."
        ),
    ] = None,
) -> None:
    """Lift a hold: the domain advances again on healthy sending days."""
    if provider is not None:
        _act(name, "release-provider", reason, provider=provider)
    else:
        _act(name, "release", reason)


@app.command()
def pause(name: Domain, reason: Reason) -> None:
    """Stop all sending on the domain at once (queued batches too)."""
    _act(name, "pause", reason)


@app.command()
def resume(name: Domain, reason: Reason) -> None:
    """Resume a paused domain, stepping back as its plan says."""
    _act(name, "resume", reason)


@app.command("set-step")
def set_step(
    name: Domain,
    step: Annotated[int, typer.Argument(help="Step index (0 = first).")],
    reason: Reason,
) -> None:
    """Move the domain to a step of its plan."""
    _act(name, "set-step", reason, step=step)


@app.command("apply-plan")
def apply_plan(
    name: Domain,
    plan: Annotated[Path, typer.Argument(help="The new plan: a YAML file or a preset's name.")],
    reason: Reason,
) -> None:
    """Switch the domain to another plan, at the step nearest today's volume."""
    plan = plan_file(plan)
    new_plan = load_plan(plan)
    _act(name, "apply-plan", reason, plan=new_plan, plan_yaml=plan.read_text(encoding="utf-8"))


@app.command("set-quota")
def set_quota(
    name: Domain,
    per_minute: Annotated[int, typer.Option(min=1, help="ACS sends per minute.")],
    per_hour: Annotated[int, typer.Option(min=1, help="ACS sends per hour.")],
    reason: Reason = "quota raised by Microsoft",
) -> None:
    """Record the subscription's ACS quota after Microsoft raises it."""
    store, who = _store()
    store.set_quota(name, AcsQuota(per_minute, per_hour), actor=who, reason=reason, at=now())
    console.print(f"{name}: ACS quota now {per_minute:,}/min, {per_hour:,}/hour")


@app.command("transport")
def set_transport(
    name: Domain,
    transport: Annotated[Transport, typer.Argument(help="rest or smtp.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
) -> None:
    """Send the domain's mail over the REST API or ACS's SMTP endpoint (WARMUP_SMTP_*), from
    the next batch on."""
    store, who = _store()
    store.set_transport(name, transport, actor=who, reason=reason or "ops", at=now())
    console.print(f"{name}: sends over {transport.value} from the next batch")


@app.command("add-sender")
def add_sender(
    name: Domain, address: Annotated[str, typer.Argument(help="e.g. news@mail.example.com")]
) -> None:
    """Register another sender address on the domain."""
    store, who = _store()
    store.add_sender(name, address, actor=who, at=now())
    console.print(f"{name}: sender {address} added")


@app.command()
def report(name: Domain, as_json: AsJson = False) -> None:
    """Failure rates over 7 and 30 days, volume history, readiness for a quota increase, and
    when to ask for the next one."""
    at = now()
    stores = open_stores(command_settings())
    ready = readiness(stores.database, stores.domains.get(name), at)
    shape = domain_report(stores, ready, at.date())
    if as_json:
        print_json(shape)
        return
    table = Table(title=f"{name}: accepted sends per day (UTC), last 30 days")
    table.add_column("day")
    table.add_column("sent", justify="right")
    for day, sent in ready.days:
        if sent:
            table.add_row(f"{day:%a %Y-%m-%d}", f"{sent:,}")
    print_table(console, table)
    for label, window in (("7 days", ready.last_7), ("30 days", ready.last_30)):
        console.print(
            f"failure rate over {label}: {window.failure_rate:.2%} "
            f"({window.failures:,} of {window.reports:,} reports)"
        )

    def verdict(ok: bool) -> str:
        return "[green]yes[/]" if ok else "[red]no[/]"

    console.print(f"meets ACS's 2 % limit for a quota increase: {verdict(ready.under_2_percent)}")
    console.print(f"meets the 1 % a high quota needs: {verdict(ready.under_1_percent)}")
    console.print(
        "for the request: "
        f"domain {name}; current quota {ready.record.quota.per_minute:,}/min, "
        f"{ready.record.quota.per_hour:,}/hour; peak day {ready.peak_day:,}, average sending day "
        f"{ready.average_day:,.0f}; 30-day failure rate {ready.last_30.failure_rate:.2%}; "
        f"plan {ready.record.plan.name} needs {ready.target_per_hour:,}/hour at its last step"
    )
    console.print(
        quota_advice_text(shape.quota_request, "the domain's quota", at.date()), soft_wrap=True
    )
    _print_postmaster_day(shape.postmaster_last)
    _print_dmarc(shape.dmarc)


@app.command()
def audit(
    name: Domain, limit: Annotated[int, typer.Option(min=1, help="Entries to show.")] = 20
) -> None:
    """The domain's audit log, newest first."""
    store, _ = _store()
    print_audit(console, name, store.audit(name, limit))
