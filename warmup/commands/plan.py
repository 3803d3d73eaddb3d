"""``warmup plan validate|show|simulate``: ops' tools for ramp plans."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from warmup.commands.advice import quota_advice_text
from warmup.commands.console import make_console, print_table
from warmup.commands.context import has_extra, require_extra
from warmup.commands.output import AsJson, print_json
from warmup.commands.plan_runs import print_runs
from warmup.commands.progress import counting
from warmup.control.caps import AcsQuota
from warmup.control.idle import quiet_start
from warmup.control.monte_carlo import Scenario
from warmup.control.simulate import (
    DemandSchedule,
    FailureProfile,
    Simulation,
    parse_mix,
    simulate,
)
from warmup.errors import ConfigError
from warmup.plans.loader import load_plan, validate_files
from warmup.plans.model import ACS_DEFAULT_PER_HOUR, ACS_DEFAULT_PER_MINUTE, ProviderGroup
from warmup.plans.presets import plan_file, presets
from warmup.plans.schedule import earliest_schedule, usd
from warmup.views.plans import schedule_out, simulation_out

app = typer.Typer(help="Validate, show and simulate ramp plans.", no_args_is_help=True)


def _plan_argument(value: str) -> Path:
    try:
        return plan_file(value)
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None


PlanFile = Annotated[
    Path,
    typer.Argument(
        help="A plan YAML file or a preset's name (acs-default, fast…: `warmup plan list`).",
        parser=_plan_argument,
    ),
]
console = make_console()


def _start_date(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-12-01") from None


def _percent(value: str) -> float:
    text = value.strip()
    try:
        return float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a rate like 0.5% or 0.005") from None


@app.command("list")
def list_presets() -> None:
    """The plans that ship with warmup: give their names wherever a plan is taken."""
    for name, path in presets().items():
        plan = load_plan(path)
        first, last = plan.steps[0], plan.steps[-1]
        typer.echo(
            f"{name:<14} {len(plan.steps):>3} steps, {first.per_day:,} to {last.per_day:,} a day"
            + (f"  {plan.description.strip().splitlines()[0]}" if plan.description else "")
        )


@app.command()
def validate(
    files: Annotated[
        list[Path],
        typer.Argument(help="Plan files (or presets' names) to check.", parser=_plan_argument),
    ],
) -> None:
    """Check plan files; print every problem with its file, line and field. Exit 1 on any."""
    results = validate_files(files)
    for path, problems in results.items():
        if problems:
            for problem in problems:
                typer.secho(problem, fg="red", err=True)
        else:
            typer.echo(f"{path}: ok")
    bad = sum(1 for problems in results.values() if problems)
    if bad:
        typer.secho(f"{bad} of {len(results)} plan file(s) invalid", fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def show(
    file: PlanFile,
    start: Annotated[
        str | None, typer.Option(help="First day of the ramp (default: today).")
    ] = None,
    message_kb: Annotated[float, typer.Option(help="Average message size, for the cost.")] = 50.0,
    as_json: AsJson = False,
) -> None:
    """The ramp as a table: caps per step, the earliest day each is reached, volume, cost, and
    when to ask Microsoft for more quota."""
    plan = load_plan(file)
    schedule = earliest_schedule(plan, _start_date(start), message_kb)
    shape = schedule_out(schedule)
    if as_json:
        print_json(shape)
        return
    table = Table(title=f"{plan.name}: {plan.description}" if plan.description else plan.name)
    for column in (
        "step",
        "/minute",
        "/hour",
        "/day",
        "reached",
        "day",
        "sent before",
        "ACS quota",
    ):
        table.add_column(column, justify="left" if column in {"reached", "ACS quota"} else "right")
    for row in schedule.rows:
        step = row.step
        table.add_row(
            str(row.index),
            f"{step.per_minute:,}" if step.per_minute else "-",
            f"{step.per_hour:,}",
            f"{step.per_day:,}",
            row.reached_on.strftime("%a %m-%d"),
            str(row.sending_day),
            f"{row.volume_before:,}",
            "raise" if row.needs_raised_quota else "default",
        )
    print_table(console, table)
    window = plan.window
    sending = (
        f", sending {','.join(d.value for d in window.days)} "
        f"{window.start:%H:%M}-{window.end:%H:%M} {plan.timezone}"
        if window
        else ""
    )
    console.print(
        f"final step reached after [bold]{schedule.sending_days_to_final}[/] healthy sending days "
        f"({schedule.calendar_days_to_final} calendar days{sending})"
    )
    if plan.blackout_dates:
        days = ", ".join(f"{d:%a %Y-%m-%d}" for d in sorted(plan.blackout_dates))
        console.print(f"no sending on blackout dates: {days}")
    console.print(
        f"volume until then: {schedule.ramp_volume:,} emails; estimated ACS cost "
        f"[bold]{usd(schedule.ramp_cost)}[/] at {message_kb:g} KB each (list price)"
    )
    console.print(
        quota_advice_text(
            shape.quota_request,
            f"ACS's default quota ({ACS_DEFAULT_PER_HOUR}/hour, {ACS_DEFAULT_PER_MINUTE}/minute)",
            schedule.rows[0].reached_on,
        ),
        soft_wrap=True,
    )
    if start is None and (quiet := quiet_start(plan, AcsQuota(), datetime.now(UTC))):
        console.print(f"[yellow]note:[/] starting now with ACS's default quota, {quiet}")
    gates = plan.gates
    console.print(
        f"gates over {gates.window_hours} h, at least {gates.min_sample:,} reports: failures hold "
        f"{gates.failure_rate.hold:.2%} / pause {gates.failure_rate.pause:.2%}; complaints hold "
        f"{gates.complaint_rate.hold:.2%} / pause {gates.complaint_rate.pause:.2%}; "
        f"resume steps back {plan.resume.step_back}"
    )
    postmaster = plan.postmaster
    console.print(
        f"Gmail Postmaster Tools, judged at day close on Google's interval: spam hold "
        f"{postmaster.spam_rate.hold:.2%} / pause {postmaster.spam_rate.pause:.2%}; reputation "
        f"hold {postmaster.reputation.hold.value} / pause {postmaster.reputation.pause.value}; "
        f"acts on {postmaster.acts_on.value}"
    )


def _provider_profile(text: str, base_rate: str) -> tuple[ProviderGroup, FailureProfile]:
    name, sep, changes = text.partition("=")
    try:
        group = ProviderGroup(name.strip().lower())
    except ValueError:
        raise ValueError(f"{text!r}: expected GROUP=DAY:RATE,… with a provider group") from None
    if not sep:
        raise ValueError(f"{text!r}: expected GROUP=DAY:RATE,…")
    return group, FailureProfile.parse(changes, base=_percent(base_rate))


@app.command("simulate")
def simulate_command(
    file: PlanFile,
    days: Annotated[int, typer.Option(min=1, max=365, help="Days to simulate.")] = 30,
    failures: Annotated[
        str, typer.Option(help="Failure-rate changes DAY:RATE, e.g. '5:1.5%,6:4%,8:0.5%'.")
    ] = "",
    base_rate: Annotated[str, typer.Option(help="Failure rate before any change.")] = "0.5%",
    demand: Annotated[
        str | None,
        typer.Option(
            help="Recipients available per day: a number, or day ranges such as "
            "'1-10:5000,11-45:0,46-:5000' (default: unlimited)."
        ),
    ] = None,
    mix: Annotated[
        str | None,
        typer.Option(
            help="Recipients' provider groups, e.g. 'gmail:40%,microsoft:30%,yahoo:10%,other:20%': "
            "each group is judged by its own gates."
        ),
    ] = None,
    provider_failures: Annotated[
        list[str] | None,
        typer.Option(
            help="One group's own failure-rate changes, GROUP=DAY:RATE,…, e.g. "
            "'gmail=4:3%,6:0.5%' (repeatable; needs --mix)."
        ),
    ] = None,
    resume_after_days: Annotated[
        int, typer.Option(min=0, help="Days after a pause that ops resume (0: never).")
    ] = 2,
    acs_per_hour: Annotated[
        int | None, typer.Option(help="ACS quota per hour (default: the plan's ceiling).")
    ] = None,
    acs_per_minute: Annotated[
        int | None, typer.Option(help="ACS quota per minute (default: the plan's ceiling).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First simulated day (default: today).")] = None,
    chart: Annotated[
        Path | None,
        typer.Option(help="Chart file, .png or .svg (default: out/<plan>-simulation.png)."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Draw each batch's failures around the rates (binomially) with this seed, as "
            "real mail behaves (default: each rate's exact share)."
        ),
    ] = None,
    runs: Annotated[
        int,
        typer.Option(
            min=1,
            max=100_000,
            help="Repeat the run this many times with chance (seeds SEED, SEED+1, …) and "
            "print a summary: days to the final step, holds, pauses, false holds, detection.",
        ),
    ] = 1,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes for --runs (default: one per core)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Simulate the ramp day by day through the real controller, and draw the chart.

    With --runs, many runs with chance: how often bad luck holds a healthy domain, and how
    soon a bad one is caught (docs/decisions.md).
    """
    plan = load_plan(file)
    try:
        profile = FailureProfile.parse(failures, base=_percent(base_rate))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--failures") from None
    try:
        wanted = DemandSchedule.parse(demand) if demand is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--demand") from None
    try:
        groups = parse_mix(mix) if mix is not None else None
        own = dict(_provider_profile(text, base_rate) for text in provider_failures or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mix/--provider-failures") from None
    if own and groups is None:
        raise typer.BadParameter("needs --mix", param_hint="--provider-failures")
    quota = AcsQuota(
        per_minute=acs_per_minute or plan.quota.per_minute,
        per_hour=acs_per_hour or plan.quota.per_hour,
    )
    first = datetime.combine(_start_date(start), datetime.min.time(), tzinfo=plan.zone)
    if runs > 1:
        scenario = Scenario(
            plan,
            first,
            days,
            profile,
            quota,
            wanted,
            resume_after_days or None,
            groups,
            own,
        )
        print_runs(scenario, runs, 1 if seed is None else seed, workers, as_json=as_json)
        return
    with counting(f"simulating {days} days, day") as done:
        result = simulate(
            plan,
            start=first,
            days=days,
            profile=profile,
            quota=quota,
            demand=wanted,
            mix=groups,
            provider_profiles=own,
            resume_after_days=resume_after_days or None,
            progress=done,
            rng=None if seed is None else random.Random(seed),  # noqa: S311  # not a secret
        )
    if as_json:
        print_json(simulation_out(result, seed))
        if chart is not None:
            _draw(result, chart)
        return
    # The decisions go under the table, not in a column: at 80 columns a column of sentences
    # wraps one word per line.
    table = Table(
        title=f"{plan.name}: {days} days, ACS quota {quota.per_hour:,}/hour",
        box=box.SIMPLE_HEAD,  # no vertical rules: the table fits 80 columns
        pad_edge=False,
    )
    for column in ("day", "date", "step", "status", "cap", "sent", "fail", "window", "note"):
        left = column in {"date", "status", "note"}
        # "off-window" whole, even at 80 columns: the note column gives way last.
        table.add_column(
            column,
            justify="left" if left else "right",
            no_wrap=True,
            min_width=10 if column == "note" else None,
        )
    for day in result.days:
        table.add_row(
            str(day.day),
            day.date.strftime("%a %m-%d"),
            str(day.step),
            day.status.value,
            f"{day.cap:,}",
            f"{day.sent:,}",
            f"{day.failure_rate:.2%}" if day.sent else "-",
            f"{day.window_failure_rate:.2%}" if day.window_reports else "-",
            " ".join(
                filter(
                    None,
                    [
                        day.note,
                        f"probe {day.probe_sent:,}" if day.probe_sent else "",
                        "*" * bool(day.transitions),
                    ],
                )
            ),
        )
    print_table(console, table)
    decided = [(day, t) for day in result.days for t in day.transitions]
    if decided:
        console.print("* decisions:")
        for day, transition in decided:
            console.print(
                f"  day {day.day} ({day.date:%a %m-%d}) {transition.action}: {transition.reason}",
                highlight=False,
            )
    final = result.days[-1]
    console.print(
        f"after {days} days: step {final.step} of {plan.last_step}, {final.status.value}; "
        f"{sum(d.sent for d in result.days):,} sent"
    )
    if chart is None and not has_extra("matplotlib"):
        console.print(
            "chart: skipped (it needs the chart extra: pip install 'warmup[chart]')", markup=False
        )
        return
    console.print(f"chart: {_draw(result, chart or Path('out') / f'{plan.name}-simulation.png')}")


def _draw(result: Simulation, path: Path) -> Path:
    require_extra("matplotlib", "chart", "--chart")
    from warmup.commands.chart import write_chart  # matplotlib is slow to import: only here

    return write_chart(result, path)
