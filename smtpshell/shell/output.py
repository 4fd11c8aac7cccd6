"""Everything the shell shows, in order, a bounded amount per turn of the event loop.

A server can send replies faster than a terminal can draw them. Printed as they
arrive, a flood of them keeps the event loop busy drawing, and the user's keys
(``disconnect``, Ctrl-D) or the end of piped input wait until the server stops. So
output is queued: each turn of the loop prints at most ``per_turn`` items, and
when more than ``backlog`` server replies wait, the oldest are dropped and counted
("... 120,000 more replies not shown"). What smtpshell itself says (errors,
notices, results) is never dropped, and keeps its place in the order.

What is shown while a prompt waits for keys goes above the prompt: ``around`` wraps
each turn's printing (the shell erases its prompt before and draws it again after),
so a late "connection closed by the server" never lands on the prompt's line.
While the prompt is being left (the accepted line redrawn, the terminal modes put
back) nothing can go above it nor below it yet: ``hold`` keeps output queued until
``release``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

Show = Callable[[], None]


@dataclass
class _Item:
    show: Show
    droppable: bool
    number: int
    dropped: int = 0  # a gap: this many replies were dropped here


class OutputQueue:
    def __init__(
        self, on_dropped: Callable[[int], None], per_turn: int = 200, backlog: int = 2000
    ) -> None:
        self._items: deque[_Item] = deque()
        self._droppable = 0
        self._on_dropped = on_dropped
        self._per_turn = per_turn
        self._backlog = backlog
        self._scheduled = False
        self._queued = 0  # the number of the last item queued
        self._done = 0  # every item up to this number has been shown or dropped
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._held = False
        self.around: Callable[[], AbstractContextManager[object]] = nullcontext

    def put(self, show: Show, droppable: bool = False) -> None:
        """Queue ``show``; ``droppable`` for server replies, which may be counted
        instead of shown when too many wait."""
        self._queued += 1
        self._items.append(_Item(show, droppable, self._queued))
        if droppable:
            self._droppable += 1
            if self._droppable > self._backlog:
                self._drop_oldest_reply()
        self._schedule()

    def hold(self) -> None:
        """Show nothing until :meth:`release`; what comes meanwhile keeps its order."""
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            if self._items:
                self._schedule()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (shutting down): show now
            self._show_all()
            return
        self._scheduled = True
        loop.call_soon(self._turn)

    def _turn(self) -> None:
        self._scheduled = False
        if self._held:
            return  # release() schedules the next turn
        with self.around():
            for _ in range(self._per_turn):
                if not self._items:
                    break
                self._show_next()
        if self._items:
            self._schedule()
        self._wake()

    def _show_next(self) -> None:
        item = self._items.popleft()
        self._done = item.number
        if item.droppable:
            self._droppable -= 1
        if item.dropped:
            self._on_dropped(item.dropped)
        else:
            item.show()

    def _drop_oldest_reply(self) -> None:
        """Replace the oldest waiting reply by a gap that counts it, merged with the
        gap just before it, so the count shows where the replies would have."""
        for index, item in enumerate(self._items):
            if not item.droppable:
                continue
            self._droppable -= 1
            before = self._items[index - 1] if index else None
            if before is not None and before.dropped:
                before.dropped += 1
                before.number = item.number
                del self._items[index]
            else:
                self._items[index] = _Item(item.show, False, item.number, dropped=1)
            return

    def _show_all(self) -> None:
        self._held = False
        while self._items:
            self._show_next()
        self._done = self._queued
        self._wake()

    def _wake(self) -> None:
        if not self._items:
            self._done = self._queued
        waiting = []
        for target, future in self._waiters:
            if target <= self._done:
                if not future.done():
                    future.set_result(None)
            else:
                waiting.append((target, future))
        self._waiters = waiting

    async def flush(self) -> None:
        """Wait until everything queued so far has been shown (or, for replies in a
        flood, counted); what arrives meanwhile does not make the wait longer."""
        if self._done >= self._queued:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._queued, future))
        self._schedule()
        await future

    def flush_now(self) -> None:
        """Show everything queued, at once (the program is about to end)."""
        self._show_all()
