"""Listen for the clients a transcript is served to, N connections, and collect the verdict.

A plain asyncio server, not aiosmtpd: every reply must be the transcript's own, odd
ones included. Serving stops at the first deviation, without waiting for the other
connections: the client has already failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from pathlib import Path

from smtpshell.playback.conversation import LINE_LIMIT, Conversation, Deviation, Settings
from smtpshell.playback.script import Script, ScriptError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.inert import inert
from smtpshell.server.network import format_address, listen_failure


def tls_context(
    cert: Path | None = None, key: Path | None = None, cert_dir: Path | None = None
) -> tuple[ssl.SSLContext, Path | None]:
    """A server context from ``cert``/``key``, else from the embedded server's CA in
    ``cert_dir`` (made on first use, as ``smtpshell serve`` does); and the CA file."""
    from smtpshell.server.certs import ensure_certificates, server_tls_context

    if cert is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ScriptError(f"cannot use --cert {cert}: {reason}") from None
        return context, None
    if cert_dir is None:
        from smtpshell.server.embedded import default_data_dir

        cert_dir = default_data_dir() / "server-tls"
    try:
        paths = ensure_certificates(cert_dir)
    except OSError as exc:
        raise ScriptError(f"cannot set up TLS certificates in {cert_dir}: {exc.strerror}") from None
    return server_tls_context(paths), paths.ca_file


class PlaybackServer:
    """Serve ``script`` to ``connections`` clients on ``host:port`` (0: any free port).

    ``failures`` and ``notes`` are ``FILE:LINE: ...`` lines; ``done`` is set once every
    connection has been served or one has deviated.
    """

    def __init__(
        self,
        script: Script,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        connections: int = 1,
    ) -> None:
        self.script = script
        self.settings = settings
        self.host = host
        self.port = port
        self.connections = connections
        self.accepted = 0
        self.completed = 0
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.done = asyncio.Event()
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        # Each connection's task, and its conversation once TLS (if any) is up.
        self._running: dict[asyncio.Task[None], Conversation | None] = {}

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    async def start(self) -> None:
        """Listen; ``port`` is then the port bound (``--port 0``: any free one)."""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                self.host or None, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, _, _, _, address = infos[0]
            listener = socket.create_server(address[:2], family=family)
        except OSError as exc:
            raise listen_failure(self.host, self.port, exc) from exc
        listener.setblocking(False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._accepting = asyncio.create_task(self._accept())

    async def _accept(self) -> None:
        # Our own accept loop rather than start_server: connect_accepted_socket makes
        # the implicit-TLS handshake and raises its failure, which start_server's
        # listener would only log at debug level, leaving the client unreported.
        loop = asyncio.get_running_loop()
        assert self._listener is not None
        while self.accepted < self.connections:
            try:
                connection, _ = await loop.sock_accept(self._listener)
            except OSError as exc:  # out of file descriptors, say: no client to blame
                self.failures.append(f"{self.script.path}: cannot accept a connection: {exc}")
                self.done.set()
                return
            self.accepted += 1
            task = asyncio.create_task(self._serve(connection))
            self._running[task] = None
        self._stop_listening()  # the script has no more to serve

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def _open(
        self, connection: socket.socket
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        made: asyncio.Future[asyncio.StreamWriter] = loop.create_future()
        # With a client_connected_cb the protocol is a server's: StreamWriter.start_tls
        # then takes the server side at STARTTLS.
        protocol = asyncio.StreamReaderProtocol(reader, lambda _, writer: made.set_result(writer))
        implicit = self.script.tls is TlsMode.IMPLICIT
        await loop.connect_accepted_socket(
            lambda: protocol,
            connection,
            ssl=self.settings.tls if implicit else None,
            ssl_handshake_timeout=self.settings.timeout if implicit else None,
        )
        return reader, await made

    async def _serve(self, connection: socket.socket) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            reader, writer = await self._open(connection)
        except (ssl.SSLError, OSError, TimeoutError) as exc:
            connection.close()
            line = self.script.transcript.connect.line if self.script.transcript.connect else 0
            reason = inert(str(exc) or type(exc).__name__)
            self._fail(Deviation(line, f"the TLS handshake (implicit TLS) failed: {reason}", ""))
            self._running.pop(task, None)
            return
        conversation = Conversation(self.script, reader, writer, self.settings, self.notes)
        self._running[task] = conversation
        try:
            deviation = await conversation.run()
            if deviation is not None:
                self._fail(deviation)
            else:
                self.completed += 1
        finally:
            await _close(writer)
            # Only now: stop() waits for the conversations in this table, closing included.
            self._running.pop(task, None)
        if self.completed == self.connections:
            self.done.set()

    def _fail(self, deviation: Deviation) -> None:
        self.failures.append(f"{self.script.where(deviation.line)}: {deviation.message}")
        self.done.set()

    async def stop(self, grace: float = 1.0) -> None:
        """Stop listening; give conversations under way ``grace`` seconds, then end them.

        A conversation cut short, when nothing failed before, is a failure: the
        client stopped before the transcript's end. So is a connection never made.
        """
        if self._accepting is not None:
            self._accepting.cancel()
            await asyncio.wait([self._accepting])
        self._stop_listening()
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        for task, conversation in list(self._running.items()):
            if not self.failures:
                line, expected = (
                    conversation.waiting_for()
                    if conversation is not None
                    else (0, "a TLS handshake")
                )
                self._fail(
                    Deviation(
                        line,
                        f"the client stopped (connection still open); transcript expected "
                        f"{expected}",
                        expected,
                    )
                )
            task.cancel()
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        if not self.failures and self.completed < self.connections:
            made = "no connection" if self.accepted == 0 else f"{self.accepted} connection(s)"
            self.failures.append(
                f"{self.script.path}: the client made {made}; the transcript was to be "
                f"served {self.connections} time(s)"
            )
        self.done.set()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    # Closing anyway: a TLS peer may not answer close_notify.
    with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError, OSError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
