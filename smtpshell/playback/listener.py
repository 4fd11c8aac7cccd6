"""Listen for the clients a transcript is served to, N connections, and collect the verdict.

A plain asyncio server, not aiosmtpd: every reply must be the transcript's own, odd
ones included. Serving stops at the first deviation, without waiting for the other
connections: the client has already failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

from smtpshell.playback.conversation import LINE_LIMIT, Conversation, Deviation, Settings
from smtpshell.playback.script import Script, ScriptError
from smtpshell.protocol.endpoint import TlsMode
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
        self._server: asyncio.Server | None = None
        self._running: dict[asyncio.Task[None], Conversation] = {}

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    async def start(self) -> None:
        implicit = self.script.tls is TlsMode.IMPLICIT
        try:
            self._server = await asyncio.start_server(
                self._serve,
                self.host,
                self.port,
                ssl=self.settings.tls if implicit else None,
                ssl_handshake_timeout=self.settings.timeout if implicit else None,
                limit=LINE_LIMIT,
            )
        except OSError as exc:
            raise listen_failure(self.host, self.port, exc) from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.accepted >= self.connections or self.done.is_set():
            writer.close()  # one too many: the listener is closing
            return
        self.accepted += 1
        if self.accepted == self.connections and self._server is not None:
            self._server.close()  # RFC-wise nothing to say: the script has no more to serve
        conversation = Conversation(self.script, reader, writer, self.settings, self.notes)
        task = asyncio.current_task()
        assert task is not None
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
        if self._server is not None:
            self._server.close()
        if self._running:
            await asyncio.wait(list(self._running), timeout=grace)
        for task, conversation in list(self._running.items()):
            if not self.failures:
                line, expected = conversation.waiting_for()
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
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self.done.set()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    # Closing anyway: a TLS peer may not answer close_notify.
    with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError, OSError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)
