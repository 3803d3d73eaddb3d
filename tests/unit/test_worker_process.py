"""A worker process's own settings: its heap settled after start-up, and the drain flag it
asks before every send looked up at most every tenth of a second."""

from __future__ import annotations

import gc
import math
import weakref

import pytest

from warmup import heap
from workers import draining


def test_settling_freezes_the_start_up_heap_and_widens_the_young_generation() -> None:
    before = gc.get_threshold()
    try:
        heap.settle()
        assert gc.get_freeze_count() > 1000  # the modules, the test session...
        assert gc.get_threshold() == (heap.YOUNG_GENERATION, before[1], before[2])

        class Node:
            pass

        cycle = Node()
        cycle.itself = cycle  # type: ignore[attr-defined]
        gone = weakref.ref(cycle)
        del cycle
        gc.collect()
        assert gone() is None  # garbage made after settling is still collected
    finally:
        heap.unsettle()
        gc.set_threshold(*before)


def test_an_import_ending_in_a_settled_process_leaves_its_heap_frozen() -> None:
    before = gc.get_threshold()
    try:
        heap.settle()
        settled = gc.get_freeze_count()
        with heap.frozen_heap():
            pass
        assert gc.get_freeze_count() >= settled  # the import thawed nothing of the worker's
    finally:
        heap.unsettle()
        gc.set_threshold(*before)


def test_the_drain_flag_is_looked_up_at_most_every_tenth_of_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(draining.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(draining, "_seen", (-math.inf, False))
    draining.forget()
    try:
        assert not draining.draining()
        draining.start_draining()  # SIGTERM reached the worker
        now[0] = 1000.0 + draining.RECHECK_SECONDS / 2
        assert not draining.draining()  # the answer of a moment ago
        now[0] = 1000.0 + draining.RECHECK_SECONDS
        assert draining.draining()
    finally:
        draining.forget()
