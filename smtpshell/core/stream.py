"""The asyncio protocol under a session: bytes in, replies out, STARTTLS hand-over.

A Protocol rather than asyncio streams because at STARTTLS we must drop the bytes
already received in plain text; a StreamReader would keep them and hand them over
as if they had arrived inside TLS (response injection, USENIX Security 2021).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from smtpshell.errors import ProtocolError
from smtpshell.protocol.reply import Reply, ReplyParser

# The first byte of a TLS record: alert (21) or handshake (22), RFC 8446 5.1. An
# SMTP reply starts with a digit, so a server whose first byte is one of these
# speaks TLS: it wants implicit TLS (RFC 8314), and no greeting will ever come.
_TLS_RECORD_TYPES = b"\x15\x16"

# What ``write`` hands to the transport at once rather than holding for the end of
# the turn: message text comes in blocks this large or larger, and holding them
# would only copy them.
DIRECT_WRITE = 16 * 1024


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
        self._heard = False  # whether any byte has arrived yet
        self._can_write = asyncio.Event()
        self._can_write.set()
        self._gone = asyncio.Event()
        # Small writes made in one turn of the event loop, sent together at its end.
        self._pending: list[bytes] = []
        self._pending_size = 0  # never DIRECT_WRITE or more
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
        if not self._heard and data:
            self._heard = True
            if data[0] in _TLS_RECORD_TYPES and data[1:2] in (b"", b"\x03"):
                self._broken = True
                self._on_error(
                    ProtocolError(
                        "the server answers in TLS, not in SMTP: it expects implicit "
                        "TLS (connect with --tls)"
                    )
                )
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

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> asyncio.Transport:
        """Run the TLS handshake on this connection (RFC 3207 4) and return the TLS
        transport; :meth:`resume_after_tls` then switches to it."""
        tcp = self.transport
        assert tcp is not None
        loop = asyncio.get_running_loop()
        try:
            transport = await loop.start_tls(tcp, self, context, server_hostname=server_hostname)
        except BaseException:
            self._reclaim(tcp)
            raise
        if transport is None:
            # start_tls's answer when the connection ended mid-handshake without an
            # error of its own (aborted after a time-out, say).
            self._reclaim(tcp)
            raise ConnectionResetError("the connection closed during the TLS handshake")
        return transport

    def _reclaim(self, tcp: asyncio.Transport) -> None:
        """After a failed or cancelled handshake, hear of the TCP connection's end.

        asyncio's SSLProtocol does not pass connection_lost on while it is still
        handshaking (asyncio/sslproto.py), so without this the stream would never
        learn that its socket is closed.
        """
        tls_protocol = tcp.get_protocol()
        if tls_protocol is None:  # the transport has already called connection_lost
            self._mark_gone()
        elif tls_protocol is not self:
            tcp.set_protocol(_LastWord(tls_protocol, self._mark_gone))

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
        if self._gone.is_set():
            return
        self._mark_gone()
        self._on_lost(exc)

    def _mark_gone(self) -> None:
        self._gone.set()
        self._can_write.set()

    # -- writing --------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data``; small writes made in the same turn of the event loop go out
        together, in one ``send()``, once the turn ends (or :data:`DIRECT_WRITE`
        bytes are held).

        A pipelined group (RFC 2920 3.1) then reaches the server in one segment,
        and a command line costs no system call of its own. Order is kept.
        """
        if not self._pending:
            if len(data) >= DIRECT_WRITE:
                self._transport_write(data)
                return
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= DIRECT_WRITE:
            self.flush()

    def flush(self) -> None:
        """Hand what :meth:`write` holds to the transport now."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_size = 0
            self._transport_write(data)

    @property
    def buffered(self) -> int:
        """The bytes written and not yet sent: held by :meth:`write`, plus those in
        the transport's buffer (flow control keeps these under its high-water mark)."""
        transport = self.transport
        in_transport = transport.get_write_buffer_size() if transport is not None else 0
        return self._pending_size + in_transport

    def _transport_write(self, data: bytes) -> None:
        transport = self.transport
        # A connection that is closing is past writing to: what it was owed fails
        # through connection_lost, not here (this may run from the loop's callback).
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        """Close gracefully: what is held goes out first, then the transport's buffer."""
        self.flush()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._pending_size = 0
        if self.transport is not None:
            self.transport.abort()

    async def wait_gone(self, grace: float) -> None:
        """Return once the connection is gone (its socket closed), aborting it if it is
        not within ``grace`` seconds; an abort takes one turn of the loop."""
        if not await self._gone_within(grace):
            self.abort()
            await self._gone_within(grace)

    async def _gone_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._gone.wait()
        except TimeoutError:
            return False
        return True

    def pause_writing(self) -> None:
        self._can_write.clear()

    def resume_writing(self) -> None:
        self._can_write.set()

    async def drain(self) -> None:
        """Wait while the transport's write buffer is over its high-water mark (what
        :meth:`write` holds is under DIRECT_WRITE and goes at the end of the turn)."""
        await self._can_write.wait()


class _LastWord(asyncio.BaseProtocol):
    """Takes over a TCP transport from an abandoned TLS handshake: passes its
    connection_lost on to the TLS protocol (which cleans up its timers), then says
    the connection is gone."""

    def __init__(self, tls_protocol: asyncio.BaseProtocol, gone: Callable[[], None]) -> None:
        self._tls_protocol = tls_protocol
        self._gone = gone

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._tls_protocol.connection_lost(exc)
        finally:
            self._gone()
