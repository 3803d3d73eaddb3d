"""The Celery queues the workers consume, and how deep each is in the Redis broker.

Kombu's Redis transport keeps a queue as a Redis list of that name, plus one list per priority
level above 0 (``name`` + ``\\x06\\x16`` + level); a queue's depth is the sum of their lengths.
"""

from __future__ import annotations

from typing import cast

import redis

QUEUES = ("dispatch", "send", "feedback")
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)  # kombu's default priority_steps


def queue_depths(client: redis.Redis) -> dict[str, int]:
    pipe = client.pipeline(transaction=False)
    for queue in QUEUES:
        for level in PRIORITY_STEPS:
            pipe.llen(queue if level == 0 else f"{queue}{PRIORITY_SEPARATOR}{level}")
    lengths = cast(list[int], pipe.execute())
    per = len(PRIORITY_STEPS)
    return {queue: sum(lengths[i * per : (i + 1) * per]) for i, queue in enumerate(QUEUES)}
