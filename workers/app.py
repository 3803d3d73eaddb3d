"""The Celery app, built explicitly from settings by :func:`create_app`.

Queues: ``dispatch`` (the dispatcher tick and housekeeping), ``send`` (batches), ``feedback``
(delivery reports). Delivery guarantees come from the ledger, not from Celery: a task is acked
only after it ran (``acks_late``) and given back if its worker died (``reject_on_worker_lost``);
the broker's visibility timeout outlasts a batch's lease, so a batch still running is never
handed to a second worker. No task is scheduled with a countdown or ETA (Redis would hold and
redeliver it); the beat schedule is a plain interval.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import setup_logging, worker_init, worker_shutdown, worker_shutting_down
from kombu import Queue

from warmup.errors import ConfigError
from warmup.logs import configure_logging
from warmup.pipeline.queues import QUEUES
from warmup.settings import Settings, env_name
from workers import draining, heartbeat
from workers.tasks import register_tasks

HOUSEKEEPING_TIME_LIMIT = 300


def optional_schedules(settings: Settings) -> dict[str, dict[str, Any]]:
    """Pulls from Log Analytics, Postmaster Tools and the DMARC mailbox, and the ACS
    suppression-list sync, when configured."""
    # name → (task, minutes between runs; None: not configured)
    jobs: dict[str, tuple[str, float | None]] = {
        "feedback-pull": (
            "warmup.feedback_pull",
            settings.feedback_pull_minutes if settings.log_analytics_workspace_id else None,
        ),
        "suppression-sync": ("warmup.suppression_sync", settings.acs_suppression_sync_minutes),
        "dmarc-pull": ("warmup.dmarc_pull", settings.dmarc_imap_minutes),
        "postmaster-pull": (
            "warmup.postmaster_pull",
            settings.postmaster_pull_minutes if settings.postmaster_credentials_file else None,
        ),
    }
    found: dict[str, dict[str, Any]] = {}
    for name, (task, minutes) in jobs.items():
        if minutes is not None:
            every = minutes * 60
            found[name] = {
                "task": task,
                "schedule": every,
                "options": {"queue": "feedback", "expires": every},
            }
    return found


def create_app(settings: Settings) -> Celery:
    if settings.redis_url is None:
        raise ConfigError(f"{env_name('redis_url')} is required to run workers and beat")
    broker = settings.redis_url.get_secret_value()
    app = Celery("warmup", broker=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A task is taken only when a pool process is free to run it: a worker killed with
        # batches reserved but not started would leave their rows claimed (not yet held by a
        # live lease) until the claim lease ends, and their messages unacked until the
        # visibility timeout. Started, a batch's rows come back within one live lease.
        worker_disable_prefetch=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="send",
        broker_transport_options={"visibility_timeout": int(settings.lease_seconds) + 60},
        # Last resort against a hung process (the pool process is killed; its rows come back
        # when their lease ends, and rows in doubt are asked about at ACS). Housekeeping waits
        # at most 120 s on ACS per call; batches have their own limit, from the lease.
        task_time_limit=HOUSEKEEPING_TIME_LIMIT,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # A tick is worth something only while it is fresh: ticks that waited longer than a
        # few of their intervals (workers down, queue backed up) expire instead of all running
        # at once when workers come back.
        beat_schedule={
            "dispatch": {
                "task": "warmup.dispatch",
                "schedule": 1.0,
                "options": {"queue": "dispatch", "expires": 5.0},
            },
            "feedback": {
                "task": "warmup.feedback",
                "schedule": settings.feedback_interval_seconds,
                "options": {"queue": "feedback", "expires": 5 * settings.feedback_interval_seconds},
            },
            "reconcile": {
                "task": "warmup.reconcile",
                "schedule": settings.reconcile_interval_seconds,
                "options": {
                    "queue": "dispatch",
                    "expires": 5 * settings.reconcile_interval_seconds,
                },
            },
            **optional_schedules(settings),
        },
    )
    register_tasks(app, settings)
    app.steps["worker"].add(
        heartbeat.worker_step(settings.heartbeat_file, settings.heartbeat_seconds)
    )
    app.conf.beat_scheduler = "workers.heartbeat:HeartbeatScheduler"

    # Our logging in workers and beat too (a receiver here makes Celery leave logging alone):
    # one handler that redacts secrets, tracebacks included, and the Azure SDK's per-request
    # lines at WARNING unless WARMUP_LOG_LEVEL asks for DEBUG.
    @setup_logging.connect(weak=False)
    def _configure(**_: Any) -> None:
        configure_logging(settings)

    # SIGTERM: running batches drain (see workers/draining.py) so the worker exits within its
    # bound (about the ACS read timeout) instead of waiting out a Retry-After.
    worker_init.connect(lambda **_: draining.forget(), weak=False)
    worker_shutting_down.connect(lambda **_: draining.start_draining(), weak=False)
    worker_shutdown.connect(lambda **_: draining.forget(), weak=False)

    return app
