"""A plan's earliest schedule and a simulation, as ``warmup plan show|simulate --json`` print
them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from warmup.control.monte_carlo import Summary
from warmup.control.simulate import Simulation
from warmup.plans.schedule import Schedule, quota_advice
from warmup.views.domains import QuotaRequest, quota_request


class StepOut(BaseModel):
    step: int
    per_minute: int | None
    per_hour: int
    per_day: int
    reached_on: date  # at the earliest: every sending day healthy
    sending_day: int  # 1-based
    volume_before: int  # sent on the earlier steps by then
    needs_raised_quota: bool  # above ACS's default quota after the plan's headroom


class ScheduleOut(BaseModel):
    plan: str
    description: str
    timezone: str
    steps: list[StepOut]
    sending_days_to_final: int
    calendar_days_to_final: int
    blackout_dates: list[date]
    ramp_volume: int
    ramp_cost_usd: float
    message_kb: float
    # The first step above ACS's default quota, and when to ask; None if the plan needs none.
    quota_request: QuotaRequest | None


def schedule_out(schedule: Schedule) -> ScheduleOut:
    plan = schedule.plan
    return ScheduleOut(
        plan=plan.name,
        description=plan.description or "",
        timezone=plan.timezone,
        steps=[
            StepOut(
                step=row.index,
                per_minute=row.step.per_minute,
                per_hour=row.step.per_hour,
                per_day=row.step.per_day,
                reached_on=row.reached_on,
                sending_day=row.sending_day,
                volume_before=row.volume_before,
                needs_raised_quota=row.needs_raised_quota,
            )
            for row in schedule.rows
        ],
        sending_days_to_final=schedule.sending_days_to_final,
        calendar_days_to_final=schedule.calendar_days_to_final,
        blackout_dates=sorted(plan.blackout_dates),
        ramp_volume=schedule.ramp_volume,
        ramp_cost_usd=round(schedule.ramp_cost, 4),
        message_kb=schedule.message_kb,
        quota_request=quota_request(
            quota_advice(plan, step=0, healthy_days_at_step=0, today=schedule.rows[0].reached_on)
        ),
    )


class SimulatedDayOut(BaseModel):
    day: int
    date: date
    step: int
    status: str
    cap: int
    sent: int
    failure_rate: float  # of the day's own sends
    window_failure_rate: float | None  # what the gates saw at the end of the day (None: no reading)
    note: str  # why nothing could be sent: "blackout", "off-window", "no demand"
    decisions: list[str]  # the controller's moves that day, with their reasons
    provider_sent: dict[str, int]
    probe_sent: int = 0  # of ``sent``: to provider groups their gates held (their probes)


class SimulationOut(BaseModel):
    plan: str
    seed: int | None = None  # the run's seed (none: the rates' exact shares, no chance)
    days: list[SimulatedDayOut]
    final_step: int
    last_step: int
    final_status: str
    sent: int


def simulation_out(result: Simulation, seed: int | None = None) -> SimulationOut:
    final = result.days[-1]
    return SimulationOut(
        plan=result.plan.name,
        seed=seed,
        days=[
            SimulatedDayOut(
                day=d.day,
                date=d.date,
                step=d.step,
                status=d.status.value,
                cap=d.cap,
                sent=d.sent,
                failure_rate=round(d.failure_rate, 6),
                window_failure_rate=round(d.window_failure_rate, 6) if d.window_reports else None,
                note=d.note,
                decisions=[f"{t.action}: {t.reason}" for t in d.transitions],
                provider_sent=dict(d.provider_sent),
                probe_sent=d.probe_sent,
            )
            for d in result.days
        ],
        final_step=final.step,
        last_step=result.plan.last_step,
        final_status=final.status.value,
        sent=sum(d.sent for d in result.days),
    )


class DetectionOut(BaseModel):
    """How a gate answered once its true failure rate reached the pause line."""

    gate: str  # "domain" or a provider group
    crossed_on_day: int | None
    runs: int
    within_1_sending_day: int  # runs where it held or paused that same sending day
    within_2_sending_days: int
    never: int  # runs where it never did
    paused_first: int
    sends_before_median: float | None  # sends from the crossing until it held or paused
    sends_before_p90: float | None


class MonteCarloOut(BaseModel):
    plan: str
    runs: int
    seed: int  # run i used seed + i: `plan simulate --seed` replays it alone
    days: int
    reached_final_step: int  # runs
    days_to_final_median: float | None
    days_to_final_p90: float | None
    holds_per_run: float
    pauses_per_run: float
    runs_with_any_hold: int  # a hold or pause of the domain or of a group
    runs_with_a_domain_pause: int
    false_holds_per_run: float  # holds while every true rate of the gate was below its hold line
    runs_with_a_false_hold: int
    most_releases_a_day: int  # by one gate, in any run
    releases_without_sends: int  # on a day the gate sent nothing, over all runs
    detection: list[DetectionOut]


def monte_carlo_out(plan: str, days: int, summary: Summary) -> MonteCarloOut:
    return MonteCarloOut(
        plan=plan,
        runs=summary.runs,
        seed=summary.seed,
        days=days,
        reached_final_step=summary.reached_final_step,
        days_to_final_median=summary.days_to_final_median,
        days_to_final_p90=summary.days_to_final_p90,
        holds_per_run=round(summary.holds_per_run, 4),
        pauses_per_run=round(summary.pauses_per_run, 4),
        runs_with_any_hold=summary.runs_with_any_hold,
        runs_with_a_domain_pause=summary.runs_with_a_domain_pause,
        false_holds_per_run=round(summary.false_holds_per_run, 4),
        runs_with_a_false_hold=summary.runs_with_a_false_hold,
        most_releases_a_day=summary.most_releases_a_day,
        releases_without_sends=summary.releases_without_sends,
        detection=[
            DetectionOut(gate=gate, **figures) for gate, figures in summary.detection.items()
        ],
    )
