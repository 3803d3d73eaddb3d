"""``/metrics`` for Prometheus, ``/healthz`` and ``/readyz``.

The figures are read from the store (and the broker) when Prometheus scrapes, not counted in
this process: workers are many processes on many hosts, the API may be several replicas, and
the ledger is the one place that knows what was sent. Cumulative figures (accepted, outcomes,
attempts, 429s) are counters; the rest are gauges of the state now.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from warmup.api.services import Found, Services
from warmup.control.alignment import acs_aligned_share, unknown_surge
from warmup.control.allowance import in_window
from warmup.control.postmaster import PostmasterDay
from warmup.control.state import Status
from warmup.errors import ConfigError
from warmup.feedback.overview import overview
from warmup.ledger import counts
from warmup.ledger.recoveries import domain_recovery, recovery_totals_by_domain
from warmup.pipeline.outcome_poll import quota_scope
from warmup.pipeline.queues import queue_depths
from warmup.ratelimit.dispatch_lock import last_tick
from warmup.store.database import Schema, head_revision, schema_of
from warmup.views.dmarc import recent_days
from warmup.wiring import limiter_over

router = APIRouter(tags=["monitoring"])


class PostmasterGauges:
    """Gmail Postmaster Tools' newest kept day per domain (a day or two behind by nature)."""

    def __init__(self) -> None:
        self.spam = GaugeMetricFamily(
            "warmup_postmaster_spam_ratio",
            "User-reported spam ratio at Gmail on the newest Postmaster Tools day",
            labels=["domain"],
        )
        self.spam_lower = GaugeMetricFamily(
            "warmup_postmaster_spam_ratio_lower_bound",
            "The lower bound of Google's 95 % interval of that ratio (what the gate holds on)",
            labels=["domain"],
        )
        self.reputation = GaugeMetricFamily(
            "warmup_postmaster_reputation",
            "Gmail's domain reputation on the newest day: 3 HIGH, 2 MEDIUM, 1 LOW, 0 BAD",
            labels=["domain"],
        )
        self.age = GaugeMetricFamily(
            "warmup_postmaster_day_age_days",
            "Days between today (UTC) and the newest Postmaster Tools day kept",
            labels=["domain"],
        )

    def add(self, domain: str, day: PostmasterDay | None, now: datetime) -> None:
        if day is None:
            return
        self.age.add_metric([domain], (now.date() - day.day).days)
        if day.spam_ratio is not None:
            self.spam.add_metric([domain], day.spam_ratio)
        if day.low is not None:
            self.spam_lower.add_metric([domain], day.low)
        if day.reputation is not None:
            self.reputation.add_metric([domain], day.reputation.rank)

    def families(self) -> tuple[GaugeMetricFamily, ...]:
        return (self.spam, self.spam_lower, self.reputation, self.age)


class StoreCollector(Collector):
    def __init__(self, found: Services) -> None:
        self._found = found

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        found = self._found
        now = found.clock.now()
        step = GaugeMetricFamily("warmup_domain_step", "Ramp step (0 = first)", labels=["domain"])
        status = GaugeMetricFamily(
            "warmup_domain_status", "1 for the domain's status", labels=["domain", "status"]
        )
        caps = GaugeMetricFamily(
            "warmup_domain_cap", "The step's cap per period", labels=["domain", "period"]
        )
        sent_today = GaugeMetricFamily(
            "warmup_domain_sent_today", "Accepted today (plan timezone)", labels=["domain"]
        )
        left_today = GaugeMetricFamily(
            "warmup_domain_allowance_today", "Left under today's cap", labels=["domain"]
        )
        in_flight = GaugeMetricFamily(
            "warmup_domain_in_flight", "Rows claimed and not settled", labels=["domain"]
        )
        window = GaugeMetricFamily(
            "warmup_domain_in_window",
            "1 while the plan lets the domain send now (its window, not a blackout day)",
            labels=["domain"],
        )
        rates = GaugeMetricFamily(
            "warmup_domain_health_rate",
            "Rates over the health window",
            labels=["domain", "rate"],
        )
        reports = GaugeMetricFamily(
            "warmup_domain_health_reports", "Reports in the health window", labels=["domain"]
        )
        level = GaugeMetricFamily(
            "warmup_domain_health_level",
            "Verdict: 0 unknown, 1 ok, 2 warn, 3 hold, 4 pause",
            labels=["domain"],
        )
        dmarc_aligned = GaugeMetricFamily(
            "warmup_dmarc_aligned_ratio",
            "Share of ACS's mail DMARC-aligned in the aggregate reports of the last 7 days",
            labels=["domain"],
        )
        dmarc_surge = GaugeMetricFamily(
            "warmup_dmarc_unknown_surge",
            "1 when unaligned mail from sources that are not ACS's rose sharply on the last "
            "reported day (someone else sending as the domain)",
            labels=["domain"],
        )
        postmaster = PostmasterGauges()
        for record in found.stores.domains.all():
            view = overview(found.database, found.stores.ledger, record, now)
            name = record.state.domain
            plan_step = record.plan.step(record.state.step)
            step.add_metric([name], record.state.step)
            for value in Status:
                status.add_metric([name, value.value], float(record.state.status is value))
            caps.add_metric([name, "hour"], plan_step.per_hour)
            caps.add_metric([name, "day"], view.cap_today)
            if plan_step.per_minute is not None:
                caps.add_metric([name, "minute"], plan_step.per_minute)
            sent_today.add_metric([name], view.sent_today)
            left_today.add_metric([name], view.left_today)
            in_flight.add_metric([name], view.in_flight)
            window.add_metric([name], float(in_window(record.plan, now)))
            counts = view.verdict.counts
            rates.add_metric([name, "failure"], counts.failure_rate)
            rates.add_metric([name, "hard_bounce"], counts.hard_bounce_rate)
            rates.add_metric([name, "complaint"], counts.complaint_rate)
            reports.add_metric([name], counts.total)
            level.add_metric([name], int(view.verdict.level))
            days, week = recent_days(found.stores.dmarc, name, now.date())
            share = acs_aligned_share(week)
            if share is not None:
                dmarc_aligned.add_metric([name], share)
            dmarc_surge.add_metric([name], float(unknown_surge(days) is not None))
            postmaster.add(name, found.stores.postmaster.latest(name), now)
        yield from (step, status, caps, sent_today, left_today, in_flight, window)
        yield from (rates, reports, level, dmarc_aligned, dmarc_surge)
        yield from postmaster.families()
        yield from self._ledger()
        yield from self._recovery(now)
        yield from self._webhook()
        yield from self._broker()

    def _recovery(self, now: datetime) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Rows that dead or hung processes left, how they were settled, and the status-GET
        budget that settles the ones in doubt."""
        found = self._found
        recovered = CounterMetricFamily(
            "warmup_recovered_rows",
            "Rows of lapsed batches settled from their wire journals: unsent (back to pending "
            "without a status GET), answered (recorded as noted), in_doubt (asked at ACS)",
            labels=["domain", "how"],
        )
        for domain, totals in recovery_totals_by_domain(found.database).items():
            recovered.add_metric([domain, "unsent"], totals.unsent)
            recovered.add_metric([domain, "answered"], totals.answered)
            recovered.add_metric([domain, "in_doubt"], totals.in_doubt)
        yield recovered
        budget = found.status_budget(now)
        if budget is None:
            return
        left = GaugeMetricFamily(
            "warmup_status_gets_left",
            "Status GETs (how rows in doubt are settled) left in the window",
            labels=["window"],
        )
        left.add_metric(["minute"], budget.minute_left)
        if budget.hour_left is not None:
            left.add_metric(["hour"], budget.hour_left)
        settle = GaugeMetricFamily(
            "warmup_in_doubt_settled_in_seconds",
            "Seconds until the rows in doubt now will have been asked about at ACS",
            labels=["domain"],
        )
        for record in found.stores.domains.all():
            in_doubt = domain_recovery(found.database, record.id)[1]
            by = budget.settled_by(in_doubt, now)
            settle.add_metric(
                [record.state.domain], 0.0 if by is None else (by - now).total_seconds()
            )
        yield from (left, settle)

    def _ledger(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        rows = GaugeMetricFamily(
            "warmup_ledger_rows", "Send-ledger rows by state", labels=["domain", "state"]
        )
        attempts = CounterMetricFamily(
            "warmup_send_attempts", "Calls made to ACS to send", labels=["domain"]
        )
        accepted = CounterMetricFamily(
            "warmup_accepted", "Messages ACS accepted", labels=["domain"]
        )
        outcomes = CounterMetricFamily(
            "warmup_outcomes", "Delivery outcomes by class", labels=["domain", "outcome"]
        )
        relayed = GaugeMetricFamily(
            "warmup_relay_rows",
            "Rows of the SMTP relay's transactional stream by state",
            labels=["domain", "state"],
        )
        tried: dict[str, int] = {}
        by_state: dict[tuple[str, str], int] = {}
        database = self._found.database
        for row in counts.by_domain_and_state(database):
            key = (row.domain, row.state)
            by_state[key] = by_state.get(key, 0) + row.rows
            tried[row.domain] = tried.get(row.domain, 0) + row.attempts
            if row.kind == "relay":
                relayed.add_metric([row.domain, row.state], row.rows)
        for (domain, state), count in by_state.items():
            rows.add_metric([domain, state], count)
            if state == "accepted":
                accepted.add_metric([domain], count)
        for found in counts.outcomes_by_domain(database):
            outcomes.add_metric([found.domain, found.outcome], found.rows)
        for name, calls in tried.items():
            attempts.add_metric([name], calls)
        yield from (rows, attempts, accepted, outcomes, relayed)

    def _webhook(self) -> Iterator[CounterMetricFamily]:
        refused = CounterMetricFamily(
            "warmup_webhook_events_refused",
            "Webhook events left out of their batch (this API process): invalid, unstorable",
            labels=["reason"],
        )
        for reason in ("invalid", "unstorable"):
            refused.add_metric([reason], self._found.refused_events[reason])
        yield refused

    def _broker(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        client = self._found.redis
        if client is None:
            return
        depth = GaugeMetricFamily("warmup_queue_depth", "Tasks waiting", labels=["queue"])
        for queue, count in queue_depths(client).items():
            depth.add_metric([queue], count)
        throttled = CounterMetricFamily(
            "warmup_throttled",
            "429 answers from ACS (each one holds every worker back)",
            labels=["scope"],
        )
        # From zero: a series that appears only at the first 429 hides that burst from
        # increase(); the process's own quota scope is always there.
        counts = {scope: 0 for scope in self._scopes()}
        counts.update(limiter_over(client).throttle_counts())
        for scope, count in sorted(counts.items()):
            throttled.add_metric([scope], count)
        ticked_at = last_tick(client)
        ticked = GaugeMetricFamily(
            "warmup_dispatcher_last_tick_timestamp_seconds",
            "When the dispatcher last completed a tick (beat sends them every second)",
        )
        if ticked_at is not None:
            ticked.add_metric([], ticked_at)
        yield from (depth, throttled, ticked)

    def _scopes(self) -> list[str]:
        try:
            return [quota_scope(self._found.settings)]
        except ConfigError:
            return []  # no ACS endpoint configured here: no scope to name


def registry_for(found: Services) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(found))
    return registry


@router.get("/metrics", response_class=Response)
async def metrics(found: Found) -> Response:
    assert found.metrics is not None  # create_app sets it
    body = await run_in_threadpool(generate_latest, found.metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
async def healthz() -> dict[str, bool]:
    """The process answers (liveness)."""
    return {"ok": True}


def _checks(found: Services) -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        found.database.ping()
        # A newer schema is fine (expand/contract): old pods keep serving through a rollout.
        schema, revision = schema_of(found.database.engine)
        checks["database"] = (
            "ok"
            if schema in {Schema.CURRENT, Schema.NEWER}
            else f"schema {schema.value} ({revision or 'none'}), this code needs {head_revision()}"
        )
    except Exception as exc:  # any failure means not ready; say which kind, never the URL
        checks["database"] = f"unreachable ({type(exc).__name__})"
    if found.redis is not None:
        try:
            found.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unreachable ({type(exc).__name__})"
    return checks


@router.get("/readyz")
async def readyz(found: Found) -> JSONResponse:
    """Ready for traffic: the database answers at this code's schema or a newer one, Redis
    answers."""
    checks = await run_in_threadpool(_checks, found)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
