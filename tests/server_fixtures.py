"""Helpers for tests that talk to the embedded server over real sockets.

Import from a test module (``from server_fixtures import ...``); pytest puts ``tests/``
on ``sys.path`` for modules in it.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import replace
from pathlib import Path
from typing import Any

from auth_text import b64 as b64  # also here for the modules that import it from here

from smtpshell.core.events import Event
from smtpshell.protocol.endpoint import Endpoint
from smtpshell.server import BackgroundServer, MaildirStore, ServerConfig


def local(port: int) -> Endpoint:
    """``127.0.0.1:port``: where every test server listens."""
    return Endpoint("127.0.0.1", port)


class Recorder:
    """A session listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Any]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]


def make_config(directory: Path, **overrides: Any) -> ServerConfig:
    """A config on free ports whose store and certificates live under ``directory``."""
    base = ServerConfig(
        port=0,
        tls_port=0,
        store=directory / "maildir",
        cert_dir=directory / "tls",
    )
    return replace(base, **overrides)


def start_server(
    directory: Path, events: list[str] | None = None, **overrides: Any
) -> BackgroundServer:
    """Start a background server; the caller stops it (or uses it as a context manager)."""
    on_event = events.append if events is not None else None
    return BackgroundServer(make_config(directory, **overrides), on_event).start()


def verified_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts only the server's CA, verifying host names."""
    return ssl.create_default_context(cafile=str(ca_file))


class RawSmtpClient:
    """A line-at-a-time SMTP client over a plain socket: sends exactly what it is given."""

    def __init__(
        self, port: int, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
    ) -> None:
        self.host = host
        sock = socket.create_connection((host, port), timeout=5)
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname=host)
        self.sock: socket.socket = sock
        self._reader = sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        """One whole reply: its code and its lines' text joined with newlines."""
        lines: list[bytes] = []
        while True:
            line = self._reader.readline()
            if not line:
                raise EOFError(f"connection closed after {lines!r}")
            lines.append(line)
            if line[3:4] != b"-":
                break
        text = "\n".join(line[4:].rstrip(b"\r\n").decode("utf-8") for line in lines)
        return int(lines[0][:3]), text

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode("utf-8") if isinstance(data, str) else data)

    def command(self, line: bytes | str) -> tuple[int, str]:
        raw = line.encode("utf-8") if isinstance(line, str) else line
        self.send(raw + b"\r\n")
        return self.reply()

    def starttls(self, context: ssl.SSLContext) -> None:
        code, text = self.command("STARTTLS")
        assert code == 220, text
        self._reader.close()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)
        self._reader = self.sock.makefile("rb")

    def read_rest(self) -> bytes:
        """Everything until the server closes the connection."""
        return self._reader.read()

    def close(self) -> None:
        self._reader.close()
        self.sock.close()

    def __enter__(self) -> RawSmtpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def stored_messages(server: BackgroundServer) -> list[bytes]:
    """Every message the server stored, as bytes, in delivery order."""
    return [path.read_bytes() for path in MaildirStore(server.store).messages()]
