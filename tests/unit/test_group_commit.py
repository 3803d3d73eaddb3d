"""The relay's group commit: what queues while one group is written goes in the next; a group
that fails is written again one message at a time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from warmup.relay.batcher import GroupCommit


def test_messages_that_queue_meanwhile_share_one_write() -> None:
    groups: list[list[str]] = []
    first_started, release = threading.Event(), threading.Event()

    def store(items: Sequence[str]) -> list[int]:
        groups.append(list(items))
        if len(groups) == 1:
            first_started.set()
            release.wait(5)
        return [len(groups) * 100 + i for i in range(len(items))]

    async def scenario() -> list[int]:
        commit = GroupCommit(store)
        first = asyncio.create_task(commit.submit("a"))
        await asyncio.to_thread(first_started.wait, 5)
        later = [asyncio.create_task(commit.submit(x)) for x in "bcd"]
        await asyncio.sleep(0.01)
        release.set()
        return [await first, *[await task for task in later]]

    ids = asyncio.run(scenario())
    assert groups == [["a"], ["b", "c", "d"]]
    assert ids == [100, 200, 201, 202]  # each caller gets its own message's id


def test_one_bad_message_does_not_refuse_its_neighbours() -> None:
    def store(items: Sequence[str]) -> list[int]:
        if "bad" in items:
            raise ValueError("cannot store a bad message")
        return [ord(item[0]) for item in items]

    async def scenario() -> tuple[list[int], BaseException | None]:
        commit = GroupCommit(store)
        tasks = [asyncio.create_task(commit.submit(x)) for x in ("a", "bad", "c")]
        done = await asyncio.gather(*tasks, return_exceptions=True)
        return [d for d in done if isinstance(d, int)], next(
            (d for d in done if isinstance(d, BaseException)), None
        )

    stored, error = asyncio.run(scenario())
    assert stored == [ord("a"), ord("c")]
    assert isinstance(error, ValueError)


def test_a_group_is_never_larger_than_asked() -> None:
    sizes: list[int] = []

    def store(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        return list(items)

    async def scenario() -> list[int]:
        commit = GroupCommit(store, max_group=3)
        return list(await asyncio.gather(*(commit.submit(i) for i in range(7))))

    assert asyncio.run(scenario()) == list(range(7))
    assert max(sizes) <= 3
    assert sum(sizes) == 7


@pytest.mark.parametrize("count", [1, 5])
def test_every_caller_hears_a_failure_of_the_store(count: int) -> None:
    def store(items: Sequence[int]) -> list[int]:
        raise OSError("database unreachable")

    async def scenario() -> list[object]:
        commit = GroupCommit(store)
        return await asyncio.gather(
            *(commit.submit(i) for i in range(count)), return_exceptions=True
        )

    assert all(isinstance(result, OSError) for result in asyncio.run(scenario()))
