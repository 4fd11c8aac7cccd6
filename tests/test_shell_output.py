"""The shell's output queue: order kept, a bounded amount per turn, floods counted."""

from __future__ import annotations

import asyncio

from smtpshell.shell.output import OutputQueue


def test_order_is_kept_and_each_turn_is_bounded() -> None:
    shown: list[str] = []
    turns: list[int] = []

    async def scenario() -> None:
        queue = OutputQueue(lambda n: shown.append(f"dropped {n}"), per_turn=3, backlog=100)
        for index in range(7):
            queue.put(lambda index=index: shown.append(str(index)), droppable=index % 2 == 0)
        turns.append(len(shown))  # nothing shown while the caller still runs
        await asyncio.sleep(0)
        turns.append(len(shown))
        await queue.flush()

    asyncio.run(scenario())
    assert turns == [0, 3]
    assert shown == [str(index) for index in range(7)]


def test_a_flood_of_replies_is_counted_and_notices_are_never_dropped() -> None:
    shown: list[str] = []

    async def scenario() -> None:
        queue = OutputQueue(lambda n: shown.append(f"dropped {n}"), per_turn=10, backlog=5)
        queue.put(lambda: shown.append("notice before"))
        for index in range(50):
            queue.put(lambda index=index: shown.append(f"reply {index}"), droppable=True)
        queue.put(lambda: shown.append("notice after"))
        await queue.flush()

    asyncio.run(scenario())
    assert shown == [
        "notice before",
        "dropped 45",
        *[f"reply {index}" for index in range(45, 50)],
        "notice after",
    ]


def test_flush_does_not_wait_for_what_arrives_after_it() -> None:
    """The prompt waits for the output before it, not for a flood that goes on."""
    shown: list[str] = []

    async def scenario() -> None:
        queue = OutputQueue(lambda n: None, per_turn=1, backlog=1000)
        queue.put(lambda: shown.append("before"))

        async def keep_flooding() -> None:
            while True:
                queue.put(lambda: shown.append("flood"), droppable=True)
                await asyncio.sleep(0)

        flooding = asyncio.create_task(keep_flooding())
        await asyncio.wait_for(queue.flush(), 5)
        flooding.cancel()
        assert shown[0] == "before"

    asyncio.run(scenario())


def test_flush_now_shows_everything_at_once() -> None:
    shown: list[str] = []
    queue = OutputQueue(lambda n: shown.append(f"dropped {n}"), per_turn=1, backlog=2)
    for index in range(4):
        queue.put(lambda index=index: shown.append(f"reply {index}"), droppable=True)
    queue.flush_now()
    assert shown == ["reply 0", "reply 1", "reply 2", "reply 3"]
