"""The embedded SMTP server: STARTTLS on one port, implicit TLS on another, a maildir.

aiosmtpd's ``Controller`` is not used: in 1.4.6 it cannot listen on port 0 (its readiness
probe connects to the port it was given), and tests need free ports. The listeners are
made with ``loop.create_server`` instead, so the real bound ports are known.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from smtpshell.protocol.inert import inert
from smtpshell.server.auth import UserDirectory
from smtpshell.server.network import (
    ServerError,
    format_address,
    free_port,
    is_loopback,
    listen_failure,
)

if TYPE_CHECKING:
    import ssl

    from smtpshell.server.handler import MaildirHandler
    from smtpshell.server.protocol import ServerProtocol

__all__ = [
    "BackgroundServer",
    "EmbeddedServer",
    "ServerConfig",
    "ServerError",
    "format_address",
    "free_port",
    "is_loopback",
]

_log = logging.getLogger(__name__)

# Advertised with EHLO (RFC 1870): generous, so real-world messages with attachments fit.
MAX_MESSAGE_SIZE = 50 * 1024 * 1024
# RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for the next command.
IDLE_TIMEOUT = 300.0
# How long stop() lets sessions finish their 421 and TLS close before cutting them off.
SHUTDOWN_GRACE = 1.0


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("smtpshell"))


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 2525  # 0 = pick a free port
    tls_port: int | None = 4650  # None = no implicit-TLS listener; 0 = free port
    users: dict[str, str] = field(default_factory=dict)
    data_dir: Path | None = None  # None = platformdirs user_data_dir("smtpshell")
    store: Path | None = None  # None = data_dir/"maildir"
    cert_dir: Path | None = None  # None = data_dir/"server-tls"
    auth_plaintext: bool = False  # offer AUTH before TLS; loopback hosts only
    hostname: str = "smtpshell.local"  # in the banner and EHLO reply
    idle_timeout: float = IDLE_TIMEOUT
    size_limit: int = MAX_MESSAGE_SIZE  # the SIZE advertised and enforced (RFC 1870)


def _under(data_dir: Path | None, name: str) -> Path:
    # platformdirs only when needed: it is one more import for every start.
    return (data_dir or default_data_dir()) / name


class EmbeddedServer:
    """The server on the caller's running asyncio loop."""

    def __init__(self, config: ServerConfig, on_event: Callable[[str], None] | None = None) -> None:
        self.config = config
        self._on_event = on_event
        self.port: int = config.port
        self.tls_port: int | None = config.tls_port
        data_dir = Path(config.data_dir) if config.data_dir else None
        self.store = Path(config.store) if config.store else _under(data_dir, "maildir")
        self.cert_dir = Path(config.cert_dir) if config.cert_dir else _under(data_dir, "server-tls")
        self.ca_file: Path = self.cert_dir / "ca.pem"
        self._listeners: list[asyncio.Server] = []
        self._sessions: weakref.WeakSet[ServerProtocol] = weakref.WeakSet()

    def _emit(self, line: str) -> None:
        if self._on_event is None:
            return
        try:
            # Addresses, names and error texts in these lines come from clients.
            self._on_event(inert(line))
        except Exception as exc:
            # A broken display (say, a closed pipe) must not turn a stored message into a
            # 451 for the client; one line, not a traceback, and only once: the
            # display gets no more lines.
            self._on_event = None
            _log.warning("on_event callback failed: %s: %s", type(exc).__name__, exc)

    def _prepare_tls(self) -> ssl.SSLContext:
        from smtpshell.server.certs import ensure_certificates, server_tls_context

        try:
            paths = ensure_certificates(self.cert_dir)
            context = server_tls_context(paths)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            message = f"cannot set up TLS certificates in {self.cert_dir}: {reason}"
            raise ServerError(message) from exc
        self.ca_file = paths.ca_file
        return context

    def _prepare_handler(self) -> MaildirHandler:
        from smtpshell.server.handler import MaildirHandler
        from smtpshell.server.store import MaildirStore

        try:
            store = MaildirStore(self.store)
            store.check_writable()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ServerError(f"cannot write to the maildir {self.store}: {reason}") from exc
        return MaildirHandler(store, UserDirectory(self.config.users), self._emit)

    async def start(self) -> None:
        """Listen on the configured ports; raises ``ServerError`` with a one-line reason."""
        from smtpshell.server.protocol import ServerProtocol, quiet_aiosmtpd_logging

        config = self.config
        if config.auth_plaintext and not is_loopback(config.host):
            # Passwords in clear text may cross this machine's loopback, never a network.
            raise ServerError(
                f"AUTH in plain text is only allowed on a loopback address, not {config.host!r}"
            )
        quiet_aiosmtpd_logging()
        handler = self._prepare_handler()
        tls_context = self._prepare_tls()
        loop = asyncio.get_running_loop()

        def session_factory(implicit_tls: bool) -> Callable[[], ServerProtocol]:
            def make_session() -> ServerProtocol:
                session = ServerProtocol(
                    handler,
                    hostname=config.hostname,
                    ident="ESMTP smtpshell",
                    # STARTTLS inside implicit TLS makes no sense (RFC 3207 4.2).
                    tls_context=None if implicit_tls else tls_context,
                    # aiosmtpd only knows about STARTTLS: on the implicit-TLS port it
                    # would think the session is clear text and refuse AUTH.
                    auth_require_tls=not (implicit_tls or config.auth_plaintext),
                    authenticator=handler.authenticate,
                    enable_SMTPUTF8=True,  # RFC 6531
                    decode_data=False,  # keep bytes, advertise 8BITMIME (RFC 6152)
                    data_size_limit=config.size_limit,
                    timeout=config.idle_timeout,
                    loop=loop,
                )
                self._sessions.add(session)
                return session

            return make_session

        self._listeners = []
        try:
            plain = await self._listen(session_factory(False), config.port, None)
            self.port = plain
            self.tls_port = None
            if config.tls_port is not None:
                self.tls_port = await self._listen(
                    session_factory(True), config.tls_port, tls_context
                )
        except ServerError:
            await self.stop(quiet=True)
            raise
        self._emit(f"listening on {format_address(config.host, self.port)} (SMTP, STARTTLS)")
        if self.tls_port is not None:
            where = format_address(config.host, self.tls_port)
            self._emit(f"listening on {where} (SMTPS, implicit TLS)")

    async def _listen(
        self, factory: Callable[[], ServerProtocol], port: int, tls: ssl.SSLContext | None
    ) -> int:
        loop = asyncio.get_running_loop()
        host = self.config.host
        try:
            addresses = await self._addresses(host) if port == 0 else [host]
            first = await loop.create_server(factory, addresses[0], port, ssl=tls)
            self._listeners.append(first)
            bound: int = first.sockets[0].getsockname()[1]
            if len(addresses) > 1:
                # "localhost" is often both 127.0.0.1 and ::1; on port 0 each would get
                # a different port, so the others take the port the first one got.
                rest = await loop.create_server(factory, addresses[1:], bound, ssl=tls)
                self._listeners.append(rest)
        except OSError as exc:
            raise listen_failure(host, port, exc) from exc
        return bound

    @staticmethod
    async def _addresses(host: str) -> list[str]:
        # "" means every interface, as for asyncio: 0.0.0.0 and ::.
        infos = await asyncio.get_running_loop().getaddrinfo(
            host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        return list(dict.fromkeys(str(info[4][0]) for info in infos)) or [host]

    async def stop(self, *, quiet: bool = False) -> None:
        """Stop listening, tell connected clients 421, and close their connections."""
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.close()
        sessions = list(self._sessions)
        for session in sessions:
            session.close_for_shutdown()
        tasks = [task for session in sessions if (task := session.session_task) is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
            if pending:
                # A TLS peer that never answers close_notify would hold us for 30 s.
                for session in sessions:
                    session.abort()
                await asyncio.wait(pending, timeout=SHUTDOWN_GRACE)
        for listener in listeners:
            await listener.wait_closed()
        if listeners and not quiet:
            self._emit("stopped")


class BackgroundServer:
    """The server in a daemon thread with its own loop; for tests and ``--demo``.

    ``on_event`` is called from the server's thread.
    """

    def __init__(self, config: ServerConfig, on_event: Callable[[str], None] | None = None) -> None:
        self._server = EmbeddedServer(config, on_event)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.ca_file: Path = self._server.ca_file
        self.store: Path = self._server.store
        self.port = 0  # the ports listened on, once started
        self.tls_port: int | None = None

    def start(self) -> BackgroundServer:
        """Return once listening; re-raise whatever stopped the server from starting."""
        if self._thread is not None:
            raise RuntimeError("server already started")
        ready = threading.Event()
        failures: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._server.start())
            except BaseException as exc:
                failures.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=serve, name="smtpshell-server", daemon=True)
        thread.start()
        ready.wait()
        if failures:
            thread.join()
            raise failures[0]
        self._loop, self._thread = loop, thread
        self.port, self.tls_port = self._server.port, self._server.tls_port
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        stopping = asyncio.run_coroutine_threadsafe(self._server.stop(), loop)
        try:
            stopping.result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        # Both `with BackgroundServer(...)` and `with BackgroundServer(...).start()` work.
        return self if self._thread is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
