"""Liveness: the worker's and beat's main loops touch a file; a stuck loop stops touching it.

The worker touches it from a timer on its event loop (a bootstep), so a worker whose consumer
hangs goes stale even if its pool processes still run; beat touches it on every scheduler
tick. `warmup-probe --alive` (the liveness probe) fails once the file is six heartbeats old,
and Kubernetes restarts the container.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler

from warmup.settings import load_settings


def touch(path: Path) -> None:
    path.touch()


def worker_step(path: Path, seconds: float) -> type[bootsteps.StartStopStep]:
    class Heartbeat(bootsteps.StartStopStep):
        requires = ("celery.worker.components:Timer",)

        def __init__(self, parent: Any, **kwargs: Any) -> None:
            super().__init__(parent, **kwargs)
            self._entry: Any = None

        def start(self, parent: Any) -> None:
            touch(path)
            self._entry = parent.timer.call_repeatedly(seconds, touch, (path,))

        def stop(self, parent: Any) -> None:
            if self._entry is not None:
                self._entry.cancel()

    return Heartbeat


class HeartbeatScheduler(PersistentScheduler):  # type: ignore[misc]
    """Celery's persistent scheduler, touching the heartbeat file on every tick."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._heartbeat = load_settings().heartbeat_file
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        touch(self._heartbeat)
        return float(super().tick(*args, **kwargs))
