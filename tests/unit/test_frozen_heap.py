"""Imports running at once in one process share the frozen heap: the first to end must not
thaw it under the others."""

from __future__ import annotations

import gc
import threading

from warmup.heap import frozen_heap


def test_the_heap_thaws_when_the_last_import_ends() -> None:
    assert gc.get_freeze_count() == 0
    first = frozen_heap()
    second = frozen_heap()
    first.__enter__()
    made_since = [object() for _ in range(1000)]  # the second import freezes these too
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_freeze_count() > len(made_since)  # the second import still holds it
    second.__exit__(None, None, None)
    assert gc.get_freeze_count() == 0


def test_overlapping_imports_on_threads_end_thawed() -> None:
    started = threading.Barrier(4)

    def run() -> None:
        with frozen_heap():
            started.wait()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert gc.get_freeze_count() == 0
