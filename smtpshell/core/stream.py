"""The asyncio protocol under a session: bytes in, replies out, STARTTLS hand-over.

A Protocol rather than asyncio streams because at STARTTLS we must drop the bytes
already received in plain text; a StreamReader would keep them and hand them over
as if they had arrived inside TLS (response injection, USENIX Security 2021).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from smtpshell.errors import ProtocolError
from smtpshell.protocol.reply import Reply, ReplyParser


class SmtpStream(asyncio.Protocol):
    def __init__(
        self,
        on_made: Callable[[asyncio.Transport], None],
        on_reply: Callable[[Reply], None],
        on_error: Callable[[ProtocolError], None],
        on_lost: Callable[[Exception | None], None],
    ) -> None:
        self._on_made = on_made
        self._on_reply = on_reply
        self._on_error = on_error
        self._on_lost = on_lost
        self._parser = ReplyParser()
        self._holding = False
        self._held_bytes = 0
        self._broken = False
        self._can_write = asyncio.Event()
        self._can_write.set()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._on_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._holding:
            self._held_bytes += len(data)
            return
        if self._broken:
            return
        self._parser.feed(data)
        try:
            while not self._holding:
                reply = self._parser.next_reply()
                if reply is None:
                    return
                self._on_reply(reply)
        except ProtocolError as exc:
            self._broken = True
            self._on_error(exc)

    def hold_for_tls(self) -> None:
        """Stop parsing until the handshake; everything buffered so far is dropped."""
        self._holding = True
        self._held_bytes = self._parser.discard()

    def resume_after_tls(self, transport: asyncio.Transport) -> int:
        """Switch to the TLS transport; returns how many plain-text bytes were dropped."""
        self.transport = transport
        self._holding = False
        dropped, self._held_bytes = self._held_bytes, 0
        return dropped

    @property
    def held_bytes(self) -> int:
        return self._held_bytes

    def connection_lost(self, exc: Exception | None) -> None:
        self._can_write.set()
        self._on_lost(exc)

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def drain(self) -> None:
        """Wait while the transport's write buffer is over its high-water mark."""
        await self._can_write.wait()
