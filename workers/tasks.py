"""Thin Celery tasks: each one calls into :mod:`warmup.pipeline` and returns.

The per-process :class:`~warmup.pipeline.runtime.Runtime` is built on the first task a worker
process runs (never at import, never before a fork).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery
from celery.signals import worker_process_shutdown

from warmup import heap
from warmup.pipeline.runtime import Runtime
from warmup.ratelimit.dispatch_lock import DispatchLock
from warmup.settings import Settings
from workers.draining import draining

log = logging.getLogger(__name__)


def register_tasks(app: Celery, settings: Settings) -> None:
    holder: dict[str, Any] = {}

    def runtime() -> Runtime:
        if "runtime" not in holder:
            holder["runtime"] = Runtime(settings)
            holder["runtime"].draining = draining
            heap.settle()
        return holder["runtime"]  # type: ignore[no-any-return]

    def lock() -> DispatchLock:
        if "lock" not in holder:
            assert settings.redis_url is not None
            client = redis.Redis.from_url(settings.redis_url.get_secret_value())
            holder["lock"] = DispatchLock(client)
        return holder["lock"]  # type: ignore[no-any-return]

    # A batch stops itself before its lease ends (and gives back what it did not send): the
    # hard limit only catches a process that hangs past that.
    @app.task(
        name="warmup.send_batch",
        queue="send",
        shared=False,
        time_limit=int(settings.lease_seconds) + 45,
    )
    def send_batch(message: dict[str, Any]) -> dict[str, Any]:
        # Returns once every row is out: the batch's last answers are awaited while the
        # process's next batch starts in the slots they free (Runtime.start_batch).
        report = runtime().start_batch(message)
        log.info("batch %s started: %s", message.get("id"), report)
        return report

    # A pool process that ends (warm shutdown, a recycled child) first waits for the answers
    # its batches still expect, within the bound of one request.
    @worker_process_shutdown.connect(weak=False)
    def _finish_batches(**_: Any) -> None:
        if "runtime" in holder:
            bound = settings.connect_timeout_seconds + settings.read_timeout_seconds
            left = holder["runtime"].finish_tails(bound)
            if left:
                log.warning("%d batch(es) still awaiting answers at exit: rows stay sending", left)

    @app.task(name="warmup.dispatch", queue="dispatch", shared=False)
    def dispatch() -> int:
        # One dispatcher at a time, fenced (warmup/ratelimit/dispatch_lock.py).
        with lock().held() as fence:
            if fence is None:
                return 0
            batches = runtime().dispatch(fence)
            for batch in batches:
                # A task still queued when its claim lapses finds its rows gone: dropped unrun.
                wait = (batch.claimed_until - runtime().clock.now()).total_seconds()
                send_batch.apply_async(
                    args=[batch.to_message()],
                    queue="send",
                    expires=runtime().clock.real_seconds(max(wait, 0.0)),
                )
            return len(batches)

    @app.task(name="warmup.feedback", queue="feedback", shared=False)
    def feedback() -> None:
        for transition in runtime().feedback():
            log.warning("%s: %s", transition.domain, transition.describe())

    @app.task(name="warmup.feedback_pull", queue="feedback", shared=False)
    def feedback_pull() -> int:
        report = runtime().pull_feedback()
        for note in report.notes:
            log.warning("feedback pull: %s", note)
        log.info(
            "feedback pull: %s rows, %s new",
            report.rows,
            report.ingest.received - report.ingest.duplicates,
        )
        return report.rows

    @app.task(name="warmup.postmaster_pull", queue="feedback", shared=False)
    def postmaster_pull() -> None:
        for line in runtime().pull_postmaster():
            log.info("postmaster pull: %s", line)

    @app.task(name="warmup.dmarc_pull", queue="feedback", shared=False)
    def dmarc_pull() -> None:
        found = runtime().pull_dmarc_mailbox()
        log.info(
            "DMARC mailbox: %s aggregate reports added, %s already kept",
            found.added,
            found.already_kept,
        )

    @app.task(name="warmup.suppression_sync", queue="feedback", shared=False)
    def suppression_sync() -> None:
        for domain, report in runtime().sync_suppressions().items():
            if report.changed or report.left:
                log.info("suppression sync %s: %s", domain, report)

    @app.task(name="warmup.fill", queue="feedback", shared=False)
    def fill(name: str) -> None:
        """One chunk of a starting campaign's ledger, then the next chunk as a task of its
        own: each task stays short (under the time limit, between feedback tasks), and if
        the worker dies the fill waits for housekeeping to hand it out again."""
        if runtime().fill_step(name):
            fill.delay(name)
        else:
            log.info("campaign %s: ledger filled", name)

    @app.task(name="warmup.reconcile", queue="dispatch", shared=False)
    def reconcile() -> None:
        report = runtime().reconcile()
        for name in report.started_campaigns:
            log.info("campaign %s started, as scheduled", name)
        for name in report.fills:
            log.info("campaign %s: filling its ledger", name)
            fill.delay(name)
        for decided in report.ab_winners:
            log.info("campaign %s: %s", decided.campaign, decided.pick.reason)
        for name in report.failed_schedules:
            log.warning("campaign %s could not start as scheduled: see its audit log", name)
        for transition in report.transitions:
            log.info("%s: %s", transition.domain, transition.describe())
        outcomes = report.outcomes
        if (
            report.expired_leases
            or report.completed_campaigns
            or outcomes.verified_sent
            or outcomes.verified_unsent
        ):
            log.info("reconcile: %s", report)
