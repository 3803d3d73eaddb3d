"""Thin Celery tasks: each one calls into :mod:`warmup.pipeline` and returns.

The per-process :class:`~warmup.pipeline.runtime.Runtime` is built on the first task a worker
process runs (never at import, never before a fork).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery

from warmup.pipeline.runtime import Runtime
from warmup.settings import Settings

log = logging.getLogger(__name__)
DISPATCH_LOCK = "warmup:dispatcher-lock"


def register_tasks(app: Celery, settings: Settings) -> None:
    holder: dict[str, Any] = {}

    def runtime() -> Runtime:
        if "runtime" not in holder:
            holder["runtime"] = Runtime(settings)
        return holder["runtime"]  # type: ignore[no-any-return]

    def lock() -> redis.Redis:
        if "redis" not in holder:
            assert settings.redis_url is not None
            holder["redis"] = redis.Redis.from_url(settings.redis_url.get_secret_value())
        return holder["redis"]  # type: ignore[no-any-return]

    @app.task(name="warmup.send_batch", queue="send")
    def send_batch(message: dict[str, Any]) -> dict[str, Any]:
        report = runtime().run_batch(message)
        log.info("batch %s: %s", message.get("id"), report)
        return report

    @app.task(name="warmup.dispatch", queue="dispatch")
    def dispatch() -> int:
        # One dispatcher at a time, however many beat replicas send ticks.
        if not lock().set(DISPATCH_LOCK, "1", nx=True, px=30_000):
            return 0
        try:
            batches = runtime().dispatch()
            for batch in batches:
                send_batch.apply_async(args=[batch.to_message()], queue="send")
            return len(batches)
        finally:
            lock().delete(DISPATCH_LOCK)

    @app.task(name="warmup.feedback", queue="feedback")
    def feedback() -> None:
        for transition in runtime().feedback():
            log.warning("%s: %s", transition.domain, transition.describe())

    @app.task(name="warmup.reconcile", queue="dispatch")
    def reconcile() -> None:
        report = runtime().reconcile()
        for transition in report.transitions:
            log.info("%s: %s", transition.domain, transition.describe())
        if report.expired_leases or report.completed_campaigns:
            log.info("reconcile: %s", report)
