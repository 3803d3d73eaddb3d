"""A plan's earliest schedule and a simulation, as ``warmup plan show|simulate --json`` print
them."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

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


class SimulationOut(BaseModel):
    plan: str
    days: list[SimulatedDayOut]
    final_step: int
    last_step: int
    final_status: str
    sent: int


def simulation_out(result: Simulation) -> SimulationOut:
    final = result.days[-1]
    return SimulationOut(
        plan=result.plan.name,
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
            )
            for d in result.days
        ],
        final_step=final.step,
        last_step=result.plan.last_step,
        final_status=final.status.value,
        sent=sum(d.sent for d in result.days),
    )
