"""A worker process's heap, settled once it has built what it keeps for its whole life.

A send process allocates a few hundred short-lived containers per email (most of them the Azure
SDK's request pipeline), and about a hundred requests are alive at any moment. Under CPython's
default thresholds the cyclic collector then ran a young collection every 700 objects and,
promoting the requests alive at each one, a full collection several times a second: each walked
the 200,000 objects of the process's modules, Celery, SQLAlchemy and the SDK for 100–200 ms,
and stopped the event loop that long (measured with ``benchmarks/pipeline.py throughput``: a
sixth of the send process's time). Freezing what exists after start-up takes those objects out
of every collection for good, and a larger young generation promotes fewer requests in flight.
"""

from __future__ import annotations

import gc

# Objects allocated (net) between young collections; CPython's default is 700.
YOUNG_GENERATION = 10_000


def settle() -> None:
    """Collect once, freeze what is left (it lives as long as the process), and collect the
    young generation less often. Call once, after the process has built its runtime."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, middle, old)
