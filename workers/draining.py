"""Telling running batches that their worker is shutting down (SIGTERM: a pod being replaced).

Celery's warm shutdown stops taking tasks and waits for the running ones, but the pool processes
that run them hear nothing: a batch waiting on a long Retry-After would hold the pod until it is
killed. The main process marks the shutdown with a file named after its pid; a batch checks for
its parent's (or, in a single-process pool, its own process's) file, a cheap ``stat``, and
drains: no more permits, retry waits cut short, unsent rows given back.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

# A batch asks before every send, several hundred times a second: the files are looked at this
# often at most (two ``stat`` calls a send were 3 % of a send process's time).
RECHECK_SECONDS = 0.1
_seen = (-math.inf, False)  # (monotonic time, the answer then)


def marker(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"warmup-draining-{pid}"


def start_draining() -> None:
    marker(os.getpid()).touch()


def forget() -> None:
    """At start and at exit: a stale marker of an earlier process with this pid means nothing."""
    marker(os.getpid()).unlink(missing_ok=True)


def draining() -> bool:
    global _seen
    now = time.monotonic()
    if now - _seen[0] >= RECHECK_SECONDS:
        _seen = (now, marker(os.getppid()).exists() or marker(os.getpid()).exists())
    return _seen[1]
