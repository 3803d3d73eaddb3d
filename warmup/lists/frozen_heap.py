"""The process's objects frozen out of the cyclic garbage collector while big imports run.

``gc.freeze`` and ``gc.unfreeze`` act on the whole process: an API process running two imports
at once would have the first to end unfreeze what the other still relies on. Imports in
progress are counted instead, and the heap thaws when the last one ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freeze what the process holds now (each call adds what appeared since the last); thaw
    when no caller holds it frozen any more. Garbage made meanwhile is still collected."""
    global _holders
    with _lock:
        _holders += 1
        gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                gc.unfreeze()
