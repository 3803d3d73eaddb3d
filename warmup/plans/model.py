"""A ramp plan: how fast a sending domain may grow, and when it must hold or pause.

Plans are written in YAML (``schedules/*.yaml``) and loaded by :mod:`warmup.plans.loader`, which
adds file and line numbers to every problem. Rates may be written as fractions (``0.01``) or
percentages (``"1%"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time
from enum import StrEnum
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# ACS's default quota for a custom verified domain (docs/acs.md): a new subscription's ceiling.
ACS_DEFAULT_PER_MINUTE = 30
ACS_DEFAULT_PER_HOUR = 100
# Published list price, USD (docs/acs.md, "Limits that shape the design"). Estimates only.
PRICE_PER_EMAIL = 0.00025
PRICE_PER_MB = 0.00012


def _not_a_flag(value: Any) -> Any:
    # YAML reads yes/no/true/false as booleans, and pydantic would take them as 1 and 0.
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is a yes/no, not a number")
    return value


def _percent(value: Any) -> Any:
    value = _not_a_flag(value)
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage") from None
    return value


def _clock_time(value: Any) -> Any:
    # Unquoted 07:00 is YAML 1.1 sexagesimal: the number 420. Say so instead of a puzzle.
    if isinstance(value, int | float):  # booleans too: YAML's yes is a bool, an int
        raise ValueError(
            f"{value!r} is a number: write times in quotes, e.g. '07:00' "
            "(YAML reads an unquoted 07:00 as the number 420)"
        )
    if isinstance(value, time) and value.tzinfo is not None:
        raise ValueError("a time in the window takes no timezone: set the plan's timezone")
    return value


# Caps above what ACS grants the largest senders (about 2 million an hour), with room to spare.
MAX_CAP = 100_000_000
MAX_STEPS = 100
MAX_BLACKOUT_DATES = 1000
Rate = Annotated[float, BeforeValidator(_percent), Field(ge=0.0, le=1.0)]
Fraction = Annotated[float, BeforeValidator(_not_a_flag)]
Count = Annotated[int, Field(ge=1, le=MAX_CAP, strict=True)]
Whole = Annotated[int, Field(strict=True)]
ClockTime = Annotated[time, BeforeValidator(_clock_time)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(Strict):
    per_hour: Count
    per_day: Count
    per_minute: Count | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Step:
        if self.per_day < self.per_hour:
            raise ValueError(f"per_day ({self.per_day}) is below per_hour ({self.per_hour})")
        if self.per_minute is not None and self.per_minute > self.per_hour:
            raise ValueError(f"per_minute ({self.per_minute}) is above per_hour ({self.per_hour})")
        return self


class Advance(Strict):
    # Healthy sending days at a step before moving to the next one.
    healthy_days: Annotated[Whole, Field(ge=1, le=30)] = 2
    # A day is a *sending* day only if it sent at least this share of its daily cap, so quiet
    # days (no campaign, a weekend) do not count as proof that the domain copes.
    min_fraction_of_cap: Annotated[Fraction, Field(gt=0.0, le=1.0)] = 0.5


# Without a release line, a hold is lifted once the rate is below this share of the hold line:
# a rate sitting on the line must not hold and release the domain every few minutes.
RELEASE_SHARE_OF_HOLD = 0.8


class Threshold(Strict):
    hold: Rate
    pause: Rate
    # A hold is released only below this rate (default: 0.8 × hold).
    release: Rate | None = None
    # Reports needed before this gate decides (default: the gates' min_sample). A 0.1 % gate
    # needs about 1,000: below that, a single complaint reads as a rate above it.
    min_sample: Annotated[Whole, Field(ge=1, le=MAX_CAP)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.hold >= self.pause:
            raise ValueError(f"hold ({self.hold:.2%}) must be below pause ({self.pause:.2%})")
        if self.release is not None and self.release >= self.hold:
            raise ValueError(
                f"release ({self.release:.2%}) must be below hold ({self.hold:.2%}), "
                "or a rate on the line would hold and release in turn"
            )
        return self

    @property
    def release_line(self) -> float:
        return self.release if self.release is not None else self.hold * RELEASE_SHARE_OF_HOLD


class Gates(Strict):
    """Health gates, judged over the last ``window_hours`` once ``min_sample`` reports are in."""

    window_hours: Annotated[Whole, Field(ge=1, le=24 * 30)] = 24
    min_sample: Annotated[Whole, Field(ge=1, le=MAX_CAP)] = 200
    # Anything but Delivered is a failure for ACS: 1 % hold, 2 % pause follow its guidance.
    failure_rate: Threshold = Threshold(hold=0.01, pause=0.02)
    # Hard bounces are failures too; a separate gate lets ops be stricter about them.
    hard_bounce_rate: Threshold = Threshold(hold=0.01, pause=0.02)
    # Gmail: keep spam complaints under 0.10 %, never reach 0.30 %.
    complaint_rate: Threshold = Threshold(hold=0.001, pause=0.003, min_sample=1000)
    # A hold the gates made lasts at least this long, however fast the rates recover.
    min_hold_minutes: Annotated[Whole, Field(ge=0, le=7 * 24 * 60)] = 60
    # The gates decide on the confidence interval of each rate (docs/decisions.md): hold or
    # pause when its lower bound reaches the line, release when its upper bound is below the
    # release line. 0.95: a healthy domain is almost never held by bad luck.
    confidence: Annotated[float, Field(ge=0.8, le=0.999)] = 0.95
    # A provider group its gates hold still sends this share of its hourly cap (its probe),
    # so that fresh reports can show it recovered: the mere passing of time never releases
    # it. 0: no probe, and the group stays held until ops release it.
    probe_share: Annotated[float, Field(ge=0.0, le=0.5)] = 0.2


class ProviderGates(Strict):
    """A provider group's own gates, judged on its own reports: a field left out is the
    domain's. A group's hold or pause stops that group's traffic only."""

    min_sample: Annotated[Whole, Field(ge=1, le=MAX_CAP)] | None = None
    failure_rate: Threshold | None = None
    hard_bounce_rate: Threshold | None = None
    complaint_rate: Threshold | None = None
    min_hold_minutes: Annotated[Whole, Field(ge=0, le=7 * 24 * 60)] | None = None
    probe_share: Annotated[float, Field(ge=0.0, le=0.5)] | None = None


class Reputation(StrEnum):
    """Gmail Postmaster Tools' domain reputation, best first."""

    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    BAD = "BAD"

    @property
    def rank(self) -> int:
        """HIGH 3 … BAD 0: a reputation at or below a line's rank reaches it."""
        return _REPUTATION_RANKS[self]


_REPUTATION_RANKS = {Reputation.HIGH: 3, Reputation.MEDIUM: 2, Reputation.LOW: 1, Reputation.BAD: 0}


def _reputation(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


ReputationLine = Annotated[Reputation, BeforeValidator(_reputation)]


class ReputationLines(Strict):
    hold: ReputationLine = Reputation.LOW
    pause: ReputationLine = Reputation.BAD

    @model_validator(mode="after")
    def _ordered(self) -> ReputationLines:
        if self.pause.rank >= self.hold.rank:
            raise ValueError(
                f"pause ({self.pause}) must be a worse reputation than hold ({self.hold})"
            )
        return self


class AuthenticationLines(Strict):
    """Below these shares of Gmail's mail passing SPF, DKIM or DMARC, ``domain status`` warns."""

    spf: Rate = 0.98
    dkim: Rate = 0.98
    dmarc: Rate = 0.98


class PostmasterScope(StrEnum):
    GMAIL = "gmail"  # hold or pause the gmail provider group: Gmail's verdict is about Gmail
    DOMAIN = "domain"  # hold or pause the whole domain


class Postmaster(Strict):
    """The gate on Gmail Postmaster Tools' daily stats (``warmup postmaster pull``), applied
    when a day closes to the days Google published since: a lagging gate, a day or two late."""

    # Gmail's bulk-sender rules: under 0.1 %, never 0.3 %. Held when the lower bound of
    # Google's interval reaches the line, released when its upper bound is below release.
    spam_rate: Threshold = Threshold(hold=0.001, pause=0.003)
    reputation: ReputationLines = ReputationLines()
    authentication: AuthenticationLines = AuthenticationLines()
    acts_on: PostmasterScope = PostmasterScope.GMAIL
    # A day older than this (before the day being closed) is shown but never acted on.
    max_age_days: Annotated[Whole, Field(ge=1, le=30)] = 4


class Resume(Strict):
    step_back: Annotated[Whole, Field(ge=0, le=MAX_STEPS)] = 1


class Rewarm(Strict):
    # After this many days without a sending day the domain is shown as idle.
    idle_after_days: Annotated[Whole, Field(ge=1, le=3650)] = 7
    # After this many, its reputation has faded: it drops back to ``to_step`` and warms again.
    after_idle_days: Annotated[Whole, Field(ge=1, le=3650)] = 30
    to_step: Annotated[Whole, Field(ge=0, le=MAX_STEPS)] = 0


class Quota(Strict):
    """The ACS quota the plan is written for (its ceiling), and the share of it we use."""

    per_minute: Count = ACS_DEFAULT_PER_MINUTE
    per_hour: Count = ACS_DEFAULT_PER_HOUR
    headroom: Annotated[Fraction, Field(gt=0.0, le=1.0)] = 0.9


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """Monday is 0, as ``datetime.weekday()`` counts."""
        return _WEEKDAY_NUMBERS[self]


_WEEKDAY_NUMBERS = {day: number for number, day in enumerate(Weekday)}


@cache
def _weekday_numbers(days: tuple[Weekday, ...] | None) -> frozenset[int]:
    return frozenset(range(7)) if days is None else frozenset(d.number for d in days)


class SendingWindow(Strict):
    """When sending is allowed, in the plan's timezone: [start, end) on the listed days."""

    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1)
    start: ClockTime = time(0, 0)
    end: ClockTime = time(23, 59, 59, 999999)

    @model_validator(mode="after")
    def _start_before_end(self) -> SendingWindow:
        if self.start >= self.end:
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self

    @property
    def hours_per_day(self) -> float:
        start = self.start.hour + self.start.minute / 60
        end = self.end.hour + self.end.minute / 60 + self.end.second / 3600
        return end - start


class ProviderGroup(StrEnum):
    GMAIL = "gmail"
    MICROSOFT = "microsoft"
    YAHOO = "yahoo"
    OTHER = "other"


def zone_named(name: str) -> ZoneInfo:
    """An IANA timezone by name; ValueError saying what to give otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown timezone {name!r} (use an IANA name such as Europe/Paris)"
        ) from None


class Plan(Strict):
    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    timezone: str = "UTC"
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    advance: Advance = Advance()
    gates: Gates = Gates()
    resume: Resume = Resume()
    rewarm: Rewarm = Rewarm()
    postmaster: Postmaster = Postmaster()
    quota: Quota = Quota()
    window: SendingWindow | None = None
    # Each provider group may take at most this share of the hourly cap.
    providers: dict[ProviderGroup, Rate] | None = None
    # Gates per provider group (gmail, microsoft, yahoo, other); a group not named, and any
    # field a group leaves out, takes the domain's gates.
    provider_gates: dict[ProviderGroup, ProviderGates] = Field(default_factory=dict)
    # Days with no sending at all (holidays: low engagement, more complaints). They count as
    # non-sending days: they neither advance the ramp nor break a healthy streak.
    blackout_dates: frozenset[date] = Field(
        default_factory=frozenset, max_length=MAX_BLACKOUT_DATES
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        zone_named(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def last_step(self) -> int:
        return len(self.steps) - 1

    def step(self, index: int) -> Step:
        return self.steps[max(0, min(index, self.last_step))]

    def gates_for(self, group: ProviderGroup) -> Gates:
        """The gates a provider group's own reports are judged by."""
        own = self.provider_gates.get(group)
        if own is None:
            return self.gates
        overrides = {k: getattr(own, k) for k in own.model_fields_set}
        return self.gates.model_copy(update={k: v for k, v in overrides.items() if v is not None})

    def sends_on(self, day: date) -> bool:
        """Whether the plan lets the domain send on this calendar day (its timezone's date):
        one of the window's weekdays, and not a blackout date."""
        # Asked every simulated minute: the weekday set is worked out once per list of days.
        weekdays = _weekday_numbers(tuple(self.window.days) if self.window else None)
        return day.weekday() in weekdays and day not in self.blackout_dates


MAX_GROWTH = 2.0
Problem = tuple[tuple[str | int, ...], str]


def semantic_problems(plan: Plan) -> list[Problem]:
    """Problems across fields, each with the path of the field at fault."""
    return step_problems(plan.steps, plan.quota, plan.window) + rewarm_problems(
        plan.rewarm, plan.last_step
    )


def step_problems(
    steps: Sequence[Step | None], ceiling: Quota, window: SendingWindow | None
) -> list[Problem]:
    """Caps above the quota ceiling, caps that shrink or more than double, unreachable days.

    ``None`` stands for a step that failed its own validation: it is skipped, so the problems
    of the other steps are still reported.
    """
    problems: list[Problem] = []
    hours = window.hours_per_day if window is not None else 24.0
    for i, step in enumerate(steps):
        if step is None:
            continue
        for field, limit in (("per_hour", ceiling.per_hour), ("per_minute", ceiling.per_minute)):
            value = getattr(step, field)
            if value is not None and value > limit:
                problems.append(
                    (
                        ("steps", i, field),
                        f"{value} is above the quota ceiling quota.{field} ({limit})",
                    )
                )
        if step.per_day > step.per_hour * hours:
            problems.append(
                (
                    ("steps", i, "per_day"),
                    f"{step.per_day} cannot be reached at {step.per_hour}/hour "
                    f"in {hours:g} sending hours a day",
                )
            )
        before = steps[i - 1] if i > 0 else None
        if before is None:
            continue
        for field in ("per_hour", "per_day", "per_minute"):
            now, prev = getattr(step, field), getattr(before, field)
            if now is None or prev is None:
                continue
            if now < prev:
                problems.append(
                    (
                        ("steps", i, field),
                        f"{now} shrinks from step {i - 1}'s {prev}: caps must not go down",
                    )
                )
            elif now > prev * MAX_GROWTH:
                problems.append(
                    (
                        ("steps", i, field),
                        f"{now} is more than ×{MAX_GROWTH:g} step {i - 1}'s {prev}: "
                        "never grow faster than doubling",
                    )
                )
    return problems


def rewarm_problems(rewarm: Rewarm, last_step: int) -> list[Problem]:
    problems: list[Problem] = []
    if rewarm.idle_after_days > rewarm.after_idle_days:
        problems.append((("rewarm", "idle_after_days"), "must not be above after_idle_days"))
    if rewarm.to_step > last_step:
        problems.append(
            (("rewarm", "to_step"), f"{rewarm.to_step} is beyond the last step ({last_step})")
        )
    return problems
