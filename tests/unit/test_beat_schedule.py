"""Beat's ticks expire: after workers were down, stale ticks are dropped, not all run at once."""

from pydantic import SecretStr

from warmup.settings import Settings
from workers.app import create_app


def test_every_periodic_task_expires_within_a_few_of_its_intervals() -> None:
    settings = Settings(redis_url=SecretStr("redis://127.0.0.1:6379/0"))
    schedule = create_app(settings).conf.beat_schedule
    assert set(schedule) == {"dispatch", "feedback", "reconcile"}
    for name, entry in schedule.items():
        expires = entry["options"].get("expires")
        assert expires is not None, f"{name} never expires"
        assert 0 < expires <= 5 * float(entry["schedule"]), name


def test_every_task_has_a_hard_time_limit_and_a_batch_outlives_its_lease_only_briefly() -> None:
    settings = Settings(redis_url=SecretStr("redis://127.0.0.1:6379/0"), lease_seconds=200)
    app = create_app(settings)
    assert app.conf.task_time_limit is not None
    batch = app.tasks["warmup.send_batch"]
    assert batch.time_limit is not None
    assert settings.lease_seconds < batch.time_limit
    # The broker hands a batch to another worker only after the first was stopped for sure.
    assert batch.time_limit < app.conf.broker_transport_options["visibility_timeout"]


def test_pulls_and_suppression_syncs_are_scheduled_only_when_configured() -> None:
    settings = Settings(
        redis_url=SecretStr("redis://127.0.0.1:6379/0"),
        log_analytics_workspace_id="workspace-1",
        feedback_pull_minutes=10,
        acs_suppression_sync_minutes=60,
    )
    schedule = create_app(settings).conf.beat_schedule
    assert schedule["feedback-pull"]["task"] == "warmup.feedback_pull"
    assert schedule["feedback-pull"]["schedule"] == 600
    assert schedule["suppression-sync"]["schedule"] == 3600
    for name in ("feedback-pull", "suppression-sync"):
        assert 0 < schedule[name]["options"]["expires"] <= schedule[name]["schedule"]
