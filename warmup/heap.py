"""The process's objects kept out of the cyclic garbage collector: one place for ``gc`` tuning.

Two uses share the one process-wide freeze, so neither may undo the other's:

- :func:`settle` (a send worker, once after start-up). A send process allocates a few hundred
  short-lived containers per email (most of them the Azure SDK's request pipeline), and about
  a hundred requests are alive at any moment. Under CPython's default thresholds the collector
  then ran a full collection several times a second, each walking the 200,000 objects of the
  process's modules, Celery, SQLAlchemy and the SDK for 100–200 ms with the event loop stopped
  (a sixth of the send process's time in ``benchmarks/pipeline.py throughput``). Freezing what
  exists after start-up takes those objects out of every collection for good, and a larger
  young generation promotes fewer requests in flight.
- :func:`frozen_heap` (a list import, for its duration). ``gc.freeze`` and ``gc.unfreeze`` act
  on the whole process: an API process running two imports at once would have the first to
  end unfreeze what the other still relies on. Imports in progress are counted instead, and
  the heap thaws when the last one ends, unless the process settled it for good.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Objects allocated (net) between young collections; CPython's default is 700.
YOUNG_GENERATION = 10_000

_lock = threading.Lock()
_holders = 0
_settled = False


def settle() -> None:
    """Collect once, freeze what is left (it lives as long as the process), and collect the
    young generation less often. Call once, after the process has built its runtime."""
    global _settled
    with _lock:
        gc.collect()
        gc.freeze()
        _settled = True
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze what the process holds now (each call adds what appeared since the last); thaw
    when no caller holds it frozen any more and the process has not settled its heap.
    Garbage made meanwhile is still collected."""
    global _holders
    with _lock:
        _holders += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and not _settled:
                gc.unfreeze()


def unsettle() -> None:
    """Thaw a settled heap (tests: one process runs many)."""
    global _settled
    with _lock:
        _settled = False
        gc.unfreeze()
