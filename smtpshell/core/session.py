"""An SMTP client session: connection, TLS and reply correlation.

No terminal code here: everything observable is emitted as an event (see events.py).
The SMTP state (capabilities, DATA, AUTH, which replies are owed) is tracked by
protocol/state.py; the session feeds it and reads it.
Two command paths: ``send`` returns any reply (the shell shows a 550 in red),
``execute`` raises :class:`NegativeReply` for 4xx/5xx (the sender).
A session owns its connection: ``async with Session() as session`` closes it on the
way out, whatever the way out is.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterable, Callable, Iterable

from smtpshell.core.events import (
    Closed,
    Connected,
    Event,
    Listener,
    Notice,
    Origin,
    Received,
    Sent,
    TlsStarted,
)
from smtpshell.core.options import DEFAULT_HELO, DEFAULT_TIMEOUT, ConnectOptions
from smtpshell.core.peer import (
    check_server_name,
    connect_error,
    format_peer,
    greeting_hint,
    is_loopback,
)
from smtpshell.core.stream import SmtpStream
from smtpshell.core.tls import (
    NEEDS_CERTIFICATE,
    CertificateInfo,
    TlsInfo,
    TlsSettings,
    explain_tls_failure,
    tls_info,
)
from smtpshell.errors import (
    CommandRejected,
    ConnectionClosed,
    NegativeReply,
    NotConnected,
    ProtocolError,
    SmtpShellError,
    SmtpTimeout,
    StartTlsRefused,
    TlsError,
)
from smtpshell.protocol.commands import check_data_line, encode_command, verb_of
from smtpshell.protocol.dotstuff import END_OF_DATA, MAX_TEXT_LINE_OCTETS, DataEncoder, stuff_line
from smtpshell.protocol.ehlo import Capabilities
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.protocol.reply import Reply
from smtpshell.protocol.secrets import split_secret
from smtpshell.protocol.state import END_DATA, GREETING, SmtpState

# How long a close waits (at most the time-out) before aborting: a peer that never
# answers TLS close_notify, or never reads what is buffered, would hold it.
CLOSE_GRACE = 2.0


class Session:
    """One connection to one server at a time."""

    def __init__(self, listener: Listener | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._listeners: list[Listener] = [listener] if listener else []
        self._upgrade_task: asyncio.Task[None] | None = None
        self._last_stream: SmtpStream | None = None  # the newest connection until it is gone
        self._reset_state()

    def _reset_state(self) -> None:
        self.endpoint: Endpoint | None = None
        self.mode = TlsMode.PLAIN  # how the connection was asked for
        self.server_hostname = ""  # the name TLS verifies (usually endpoint.host)
        self.tls_settings = TlsSettings()
        self._helo = DEFAULT_HELO
        self._ehlo_after_tls = False  # --starttls: the session sends EHLO itself in TLS
        self._tls: TlsInfo | None = None
        self._state = SmtpState()
        self._stream: SmtpStream | None = None
        # One future per reply owed, in the order of self._state.awaiting.
        self._replies: deque[asyncio.Future[Reply]] = deque()
        self._closed_reported = True
        self._owner: _Owner | None = None  # where the connection's callbacks go

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- what is known of the conversation ------------------------------------

    @property
    def greeting(self) -> Reply | None:
        return self._state.greeting

    @property
    def capabilities(self) -> Capabilities | None:
        """What the last EHLO offered; None before one, after HELO and after STARTTLS."""
        return self._state.capabilities

    @property
    def in_data(self) -> bool:
        """True between DATA's 354 and the reply to the end of data."""
        return self._state.in_data

    @property
    def auth_pending(self) -> bool:
        """True while a 334 waits for a response (RFC 4954 4)."""
        return self._state.auth_pending

    @property
    def tls(self) -> TlsInfo | None:
        """The TLS in use (implicit or after STARTTLS); None in plain text."""
        return self._tls

    @property
    def awaiting(self) -> tuple[str, ...]:
        """What the replies still owed answer (command verbs), oldest first."""
        return self._state.awaiting

    @property
    def unsent_bytes(self) -> int:
        """What was written and is not yet with the operating system: flow control
        (:meth:`drain`) keeps it bounded however much is sent."""
        return self._stream.buffered if self._stream is not None else 0

    async def drain(self) -> None:
        """Wait until the connection takes more (the transport's buffer is under its
        high-water mark); returns at once when it does, or when there is none."""
        if self._stream is not None:
            await self._stream.drain()

    @property
    def on_loopback(self) -> bool:
        """Whether the connection stays on this machine: its peer is a loopback address."""
        transport = self._stream.transport if self._stream is not None else None
        return transport is not None and is_loopback(transport.get_extra_info("peername"))

    # -- observers ----------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def notify(self, text: str, level: str = "info") -> None:
        """Report something about this session to its listeners (a Notice event)."""
        self._emit(Notice(text, level))

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:
                self._drop_listener(listener, exc)

    def _drop_listener(self, listener: Listener, exc: Exception) -> None:
        """A listener that fails gets no more events; the others are told, once.

        It runs inside the protocol's data_received: letting the error through
        would kill the connection and leave the command waiting for its time-out.
        """
        if listener not in self._listeners:
            return
        self._listeners.remove(listener)
        name = getattr(listener, "__qualname__", type(listener).__name__)
        notice = Notice(
            f"{name} failed and gets no more events: {type(exc).__name__}: {exc}", "error"
        )
        for other in list(self._listeners):
            try:
                other(notice)
            except Exception as again:
                self._drop_listener(other, again)

    @property
    def connected(self) -> bool:
        return self._stream is not None

    # -- connecting ---------------------------------------------------------

    async def connect(
        self,
        endpoint: Endpoint,
        mode: TlsMode = TlsMode.PLAIN,
        tls: TlsSettings | None = None,
        helo: str = "localhost",
        server_hostname: str | None = None,
    ) -> Reply:
        """Connect, read the greeting and, for ``TlsMode.STARTTLS``, upgrade.

        ``server_hostname`` is the name the certificate must carry (and the SNI) when
        it differs from ``endpoint.host``: an MX host reached by the address our own
        resolver gave.
        """
        await self.close()  # the old connection (and any handshake on it) ends first
        self._reset_state()
        self.tls_settings = tls or TlsSettings()
        self.server_hostname = server_hostname or endpoint.host
        self._helo = helo
        if mode is not TlsMode.PLAIN:
            check_server_name(self.server_hostname)
        context = self.tls_settings.context() if mode is TlsMode.IMPLICIT else None
        greeting = self._expect(GREETING)
        try:
            await self._dial(endpoint, mode, context)
        except asyncio.CancelledError:
            self._forget_replies()
            raise
        except Exception as exc:
            self._forget_replies()
            refused = await self._refused_certificate(exc, endpoint, mode)
            error = connect_error(exc, endpoint, self.server_hostname, mode, self.timeout, refused)
            raise error from exc
        try:
            reply = await self._wait(greeting, "the greeting", greeting_hint(endpoint, mode))
            if mode is TlsMode.STARTTLS:
                await self._negotiate_starttls(helo)
        except SmtpShellError:
            if not self.connected:
                await self._release()  # the failed connection is gone before its error
            raise
        return reply

    async def _dial(
        self, endpoint: Endpoint, mode: TlsMode, context: ssl.SSLContext | None
    ) -> None:
        # Callbacks act only while their stream is the current one: a replaced
        # connection's late connection_lost must not close its successor. They go
        # to the stream's owner, which adopt() can change.
        owner = self._owner = _Owner(self)
        stream = SmtpStream(
            lambda transport: self._on_made(stream, transport, endpoint, mode),
            lambda reply: owner.current(stream, lambda s: s._on_reply(reply)),
            lambda exc: owner.current(stream, lambda s: s._on_protocol_error(exc)),
            lambda exc: owner.current(stream, lambda s: s._on_lost(exc)),
        )
        async with asyncio.timeout(self.timeout):
            await asyncio.get_running_loop().create_connection(
                lambda: stream,
                endpoint.host,
                endpoint.port,
                ssl=context,
                server_hostname=self.server_hostname if context else None,
            )

    def adopt(self, other: Session) -> None:
        """Carry on with ``other``'s connection as this session's own; ``other`` is left
        without one. This session must have none (``close`` it first).

        A shell opens a new connection on a second session and keeps its current one
        until the new server has greeted, so that a failed ``connect`` changes nothing.
        """
        if self._stream is not None or self._last_stream is not None:
            raise RuntimeError("a session adopts a connection only when it has none")
        listeners = self._listeners
        # Everything but the listeners belongs to the connection: stream, SMTP state,
        # TLS, time-out, the pending handshake.
        self.__dict__.update(vars(other))
        self._listeners = listeners
        if self._owner is not None:
            self._owner.session = self
        other._reset_state()
        other._upgrade_task = other._last_stream = None

    async def open(self, options: ConnectOptions) -> Reply:
        """Connect as ``options`` say (their time-out becomes the session's)."""
        self.timeout = options.timeout
        return await self.connect(options.endpoint, options.tls_mode, options.tls, options.helo)

    def _on_made(
        self, stream: SmtpStream, transport: asyncio.Transport, endpoint: Endpoint, mode: TlsMode
    ) -> None:
        # Runs before create_connection returns, and before the greeting is parsed.
        self._stream = self._last_stream = stream
        self._closed_reported = False
        self.endpoint = endpoint
        self.mode = mode
        if mode is TlsMode.IMPLICIT:
            self._tls = _describe(transport, self.tls_settings)
            self._state.tls_started()
        peer = transport.get_extra_info("peername")
        self._emit(Connected(endpoint, mode, format_peer(peer), self._tls))

    async def _negotiate_starttls(self, helo: str) -> None:
        ehlo = await self.send(f"EHLO {helo}", origin=Origin.AUTO)
        if ehlo.code != 250 or self.capabilities is None:
            error = TlsError(f"EHLO failed ({ehlo.code}): cannot ask for STARTTLS")
        elif not self.capabilities.has("STARTTLS"):
            error = TlsError("the server does not offer STARTTLS; not continuing in plain text")
        else:
            self._ehlo_after_tls = True
            try:
                await self.send("STARTTLS", origin=Origin.AUTO)  # a refusal raises, closes
            finally:
                self._ehlo_after_tls = False
            # RFC 3207 4.2: the client SHOULD send EHLO first thing in TLS. Servers
            # often offer AUTH only now: the session is left ready to log in.
            await self.send(f"EHLO {helo}", origin=Origin.AUTO)
            return
        self._fail(error)
        raise error

    # -- commands -----------------------------------------------------------

    async def send(self, line: str, origin: Origin = Origin.USER) -> Reply:
        """Send one command line (or AUTH response) and wait for its reply, whatever it is."""
        return await self._wait(self.send_nowait(line, origin), verb_of(line) or "the line")

    def send_nowait(self, line: str, origin: Origin = Origin.USER) -> asyncio.Future[Reply]:
        """Send without waiting (pipelining, RFC 2920); the future resolves with the reply."""
        stream = self._require_stream()
        data = encode_command(line)
        verb = self._state.verb_for(line)
        # RFC 4954 4: an AUTH credential never reaches an event; protocol/secrets.py
        # holds the one rule for which part of a line is one.
        public, secret = split_secret(line, self._state.auth_pending)
        self._write(stream, data)
        future = self._expect(verb)
        self._emit(Sent(public, secret, origin))
        return future

    # The checked path of `smtpshell send` (to come); only tests call it so far.
    async def execute(self, line: str, origin: Origin = Origin.AUTO) -> Reply:
        """Send and require a 2xx or 3xx reply."""
        reply = await self.send(line, origin)
        if not reply.is_positive:
            raise NegativeReply(verb_of(line), reply.code, reply.text)
        return reply

    def send_data_line(self, line: str, origin: Origin = Origin.USER) -> None:
        """One line of message text after 354, dot-stuffed: a line "." is sent as "..".

        Ending the message is :meth:`end_data`; deciding that a typed "." means the
        end is the caller's business.
        """
        stream = self._require_stream()
        check_data_line(line)
        # Bytes that were not UTF-8 on input (surrogates, PEP 383) go out as they came:
        # an 8-bit body is ordinary mail (RFC 6152).
        raw = line.encode("utf-8", "surrogateescape")
        if len(raw) > MAX_TEXT_LINE_OCTETS:
            self.notify(
                f"this line is {len(raw)} octets; RFC 5321 4.5.3.1.6 allows "
                f"{MAX_TEXT_LINE_OCTETS}, servers may reject or break it",
                "warning",
            )
        self._write(stream, stuff_line(raw))
        self._emit(Sent(line, origin=origin, in_data=True))

    async def end_data(self, origin: Origin = Origin.USER) -> Reply:
        stream = self._require_stream()
        self._write(stream, END_OF_DATA)
        future = self._expect(END_DATA)
        self._emit(Sent(".", origin=origin, end_of_data=True))
        return await self._wait(future, "the end of data")

    # Message streaming for `smtpshell send` (to come); only tests call it so far.
    async def send_message(self, chunks: Iterable[bytes] | AsyncIterable[bytes]) -> Reply:
        """Stream a whole message after 354: CRLF-normalised, dot-stuffed, then ".".

        Flow control keeps memory flat however large the message is.
        """
        stream = self._require_stream()
        encoder = DataEncoder()
        sent = 0
        async for chunk in _aiter(chunks):
            try:
                data = encoder.feed(chunk)
            except CommandRejected as exc:
                # Part of the message is out: the server would store it if we ended
                # it. Close instead; a mail client does the same on a read error.
                self._fail(exc)
                raise
            if data:
                self._write(stream, data)
                sent += len(data)
                await self._drain_in_time(stream)
        tail = encoder.finish()
        self._write(stream, tail)
        future = self._expect(END_DATA)
        # A summary, not a Sent per line: a recorder must not take it for message text.
        self.notify(f"message sent: {sent + len(tail) - len(END_OF_DATA)} bytes")
        self._emit(Sent(".", origin=Origin.AUTO, end_of_data=True))
        return await self._wait(future, "the end of data")

    async def _drain_in_time(self, stream: SmtpStream) -> None:
        """Wait for the connection to take more, at most the time-out: a server that
        stops reading would otherwise hold the message (and the sender) for ever."""
        try:
            async with asyncio.timeout(self.timeout):
                await stream.drain()
        except TimeoutError:
            error = SmtpTimeout(
                f"the server stopped reading the message (no room to send more for "
                f"{self.timeout:g} s); connection closed"
            )
            self._fail(error)
            raise error from None

    def _write(self, stream: SmtpStream, data: bytes) -> None:
        if stream.transport is None or stream.transport.is_closing():
            raise ConnectionClosed("the connection is closed")
        if self._state.tls_requested:
            # RFC 3207 4: after STARTTLS the client sends nothing until TLS is up;
            # a byte now would go out in plain text after TLS was asked for.
            raise TlsError("STARTTLS is under way: nothing is sent until TLS is up")
        stream.write(data)

    async def close(self, reason: str = "connection closed") -> None:
        """Close from our side (no QUIT: that is for the user or the sender to send).

        Returns once the connection is gone and any TLS handshake is cancelled, so
        nothing is left to the garbage collector; what does not end within
        min(CLOSE_GRACE, time-out) is aborted. ``reason`` is what the Closed event says.
        """
        stream = self._stream
        if stream is not None:
            self._finish(ConnectionClosed(reason), reason, by_peer=False)
            stream.close()
        await self._release()

    async def _release(self) -> None:
        grace = min(CLOSE_GRACE, self.timeout)
        task, self._upgrade_task = self._upgrade_task, None
        stream, self._last_stream = self._last_stream, None
        try:
            if task is not None and not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=grace)
            if stream is not None:
                await stream.wait_gone(grace)
        except asyncio.CancelledError:
            if stream is not None:
                stream.abort()  # cancelled while waiting: still leave no socket open
            raise

    # -- reply correlation --------------------------------------------------

    async def wait_reply(self, future: asyncio.Future[Reply], what: str = "the command") -> Reply:
        """Await a reply from :meth:`send_nowait`, bounded by the time-out."""
        return await self._wait(future, what)

    def _expect(self, verb: str) -> asyncio.Future[Reply]:
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._state.sent(verb)
        self._replies.append(future)
        return future

    def _forget_replies(self) -> None:
        self._state.closed()
        self._replies.clear()

    async def _wait(self, future: asyncio.Future[Reply], what: str, hint: str = "") -> Reply:
        if future.done() and not future.cancelled():
            return future.result()  # a pipelined reply already in: no timer, no shield
        # The time-out bounds the whole reply (a server dripping one byte a second
        # would never trip a per-read time-out); shield keeps the reply correlated
        # if the caller is cancelled (Ctrl-C in the shell). Not wait_for: on 3.11 it
        # returns the reply when a cancellation comes with it (CPython gh-86296).
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(future)
        except asyncio.CancelledError:
            if self._state.tls_requested:
                # An interrupted upgrade must not leave a plain-text session behind.
                self._fail(ConnectionClosed("STARTTLS interrupted; connection closed"))
            raise
        except TimeoutError:
            error = SmtpTimeout(
                f"no complete reply to {what} within {self.timeout:g} s{hint}; connection closed"
            )
            self._fail(error)
            raise error from None

    def _on_reply(self, reply: Reply) -> None:
        verb = self._state.replied(reply)
        if verb is None:
            self._emit(Received(reply, None, unsolicited=True))
            return
        future = self._replies.popleft()
        self._emit(Received(reply, verb))
        if verb == "STARTTLS" and not self._state.tls_pending:
            # TLS was asked for and refused: going on would send in plain text what
            # was meant for TLS (Poddebniak et al. 2021; curl CVE-2021-22947), and
            # replies pipelined after the refusal are the attacker's. Close.
            error = StartTlsRefused(
                f"the server refused STARTTLS: {reply.code} {reply.text}; "
                "connection closed rather than go on in plain text",
                tuple(reply.wire_lines()),
            )
            _settle(future, error)
            self._fail(error)
            return
        if self._state.tls_pending:
            stream = self._stream
            assert stream is not None
            stream.hold_for_tls()
            # Kept, so that a close or a new connection can cancel and await it.
            self._upgrade_task = asyncio.get_running_loop().create_task(
                self._upgrade(stream, future, reply)
            )
            return
        if not future.done():
            future.set_result(reply)

    async def _upgrade(
        self, stream: SmtpStream, future: asyncio.Future[Reply], reply: Reply
    ) -> None:
        """The handshake after STARTTLS's 220; ``future`` gets the 220 once TLS is on."""
        try:
            check_server_name(self.server_hostname)
            transport = await stream.start_tls(self.tls_settings.context(), self.server_hostname)
        except (ssl.SSLError, OSError, TlsError) as exc:
            if isinstance(exc, TlsError):
                message = str(exc)
            else:
                assert self.endpoint is not None
                refused = await self._refused_certificate(exc, self.endpoint, TlsMode.STARTTLS)
                message = explain_tls_failure(exc, self.server_hostname, TlsMode.STARTTLS, refused)
            self._fail_during_handshake(stream, future, TlsError(message))
            return
        except asyncio.CancelledError:
            closed = ConnectionClosed("connection closed during the TLS handshake")
            self._fail_during_handshake(stream, future, closed)
            raise
        if self._stream is not stream:  # closed or replaced during the handshake
            transport.close()
            _settle(future, ConnectionClosed("connection closed during the TLS handshake"))
            return
        dropped = stream.resume_after_tls(transport)
        if dropped:
            self.notify(
                f"discarded {dropped} bytes the server sent in plain text after its 220 "
                "(possible STARTTLS response injection, RFC 3207 5)",
                "warning",
            )
        self._state.tls_started()  # RFC 3207 4.2: capabilities forgotten
        self._tls = _describe(transport, self.tls_settings)
        self._emit(TlsStarted(self._tls, ehlo_follows=self._ehlo_after_tls))
        if not future.done():
            future.set_result(reply)

    def _fail_during_handshake(
        self, stream: SmtpStream, future: asyncio.Future[Reply], error: SmtpShellError
    ) -> None:
        if self._stream is stream:
            self._fail(error)
        _settle(future, error)

    async def _refused_certificate(
        self, exc: BaseException, endpoint: Endpoint, mode: TlsMode
    ) -> CertificateInfo | None:
        """The certificate a verification refused, when the way out depends on it
        (when it expired, which names it carries), else None.

        The failed handshake keeps no certificate, so a second connection reads it:
        it verifies nothing and sends nothing but EHLO and STARTTLS, then closes,
        and its events reach no one. Nothing is trusted from it but what is shown.
        """
        if not (
            isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_code in NEEDS_CERTIFICATE
        ):
            return None
        probe = Session(timeout=self.timeout)
        try:
            await probe.connect(
                endpoint, mode, TlsSettings(insecure=True), self._helo, self.server_hostname
            )
        except SmtpShellError:
            return None
        finally:
            await probe.close()
        return probe.tls.certificate if probe.tls is not None else None

    # -- failures -----------------------------------------------------------

    def _on_protocol_error(self, exc: ProtocolError) -> None:
        self._fail(type(exc)(f"{exc}; connection closed"))

    def _on_lost(self, exc: Exception | None) -> None:
        reason = "connection closed by the server" if exc is None else f"connection lost: {exc}"
        self._finish(ConnectionClosed(reason), reason, by_peer=True)

    def _fail(self, error: SmtpShellError) -> None:
        """Close after an error: a desynchronised stream is never reused."""
        stream = self._stream
        self._finish(error, str(error), by_peer=False, failure=True)
        if stream is not None:
            stream.abort()

    def _finish(
        self, error: SmtpShellError, reason: str, by_peer: bool, failure: bool = False
    ) -> None:
        self._stream = None
        self._state.closed()
        while self._replies:
            _settle(self._replies.popleft(), error)
        if not self._closed_reported:
            self._closed_reported = True
            self._emit(Closed(reason, by_peer, failure))

    def _require_stream(self) -> SmtpStream:
        if self._stream is None:
            raise NotConnected("not connected (use connect HOST[:PORT])")
        return self._stream


class _Owner:
    """The session a connection's callbacks go to: the one that dialled it, or the one
    that adopted it."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def current(self, stream: SmtpStream, call: Callable[[Session], None]) -> None:
        if self.session._stream is stream:
            call(self.session)


def _settle(future: asyncio.Future[Reply], error: SmtpShellError) -> None:
    if not future.done():
        future.set_exception(error)
        # Nobody may await a future failed by a disconnect: mark it retrieved here,
        # rather than with a callback on every future (one more turn per reply).
        future.exception()


async def _aiter(chunks: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterable[bytes]:
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk


def _describe(transport: asyncio.BaseTransport, settings: TlsSettings) -> TlsInfo:
    return tls_info(transport.get_extra_info("ssl_object"), verified=not settings.insecure)
