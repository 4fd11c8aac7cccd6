"""Loopback TCP proxies that make a fast local server look like a far or slow one.

Each proxy runs an asyncio loop in a thread of the benchmark process, listens on a
free port of 127.0.0.1 and forwards every connection to the target.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

Pump = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Proxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None

    async def upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.pump(reader, writer)

    async def downstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self.pump(reader, writer)

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(*self.target)
        try:
            await asyncio.gather(
                self._half(self.upstream, client_r, server_w),
                self._half(self.downstream, server_r, client_w),
            )
        finally:
            for writer in (client_w, server_w):
                writer.close()

    async def _half(
        self, pump: Pump, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await pump(reader, writer)
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()

    def __enter__(self) -> _Proxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class DelayProxy(_Proxy):
    """Delays every byte, each way, by ``delay`` seconds: a round trip of 2 x delay."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        super().__init__(host, port)
        self.delay = delay

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Reading goes on while earlier bytes wait out their delay, as on a long wire.
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, chunk = await queue.get()
                if not chunk:
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.ensure_future(deliver())
        while chunk := await reader.read(65536):
            queue.put_nowait((time.monotonic() + self.delay, chunk))
        queue.put_nowait((0.0, b""))
        await sender


class ThrottleProxy(_Proxy):
    """Forwards client-to-server bytes at ``rate`` bytes a second, replies at full speed."""

    def __init__(self, host: str, port: int, rate: float) -> None:
        super().__init__(host, port)
        self.rate = rate

    async def upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        start, sent = time.monotonic(), 0
        # Small reads: the client's writes back up into the socket buffers, as they
        # would behind a slow link, and its memory shows whether it waits for them.
        while chunk := await reader.read(16384):
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            ahead = start + sent / self.rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
