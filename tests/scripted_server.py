"""Small scripted SMTP servers for behaviour the embedded server never shows:
replies that never end, injected bytes at STARTTLS, abrupt closes, silence.

Each runs a coroutine per connection on its own event loop in a thread, on a free
loopback port.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ScriptedServer:
    def __init__(self, handler: Handler, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0
        self.errors: list[BaseException] = []
        self._writers: set[asyncio.StreamWriter] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except Exception as exc:  # surfaced by the test through .errors
            self.errors.append(exc)
        finally:
            self._writers.discard(writer)
            writer.close()

    def _run(self) -> None:
        loop = self._loop
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def __enter__(self) -> ScriptedServer:
        self._thread.start()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._ssl)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            # Closing the transports ends the handlers through ConnectionError;
            # cancelling them would make asyncio log the cancellation as an error.
            for writer in list(self._writers):
                writer.transport.abort()
            others = asyncio.all_tasks() - {asyncio.current_task()}
            if others:
                # A handler that ignores the abort (one waiting on the test, say) is
                # cancelled after a grace period.
                _, stuck = await asyncio.wait(others, timeout=0.5)
                for task in stuck:
                    task.cancel()
                if stuck:
                    await asyncio.wait(stuck)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def read_command(reader: asyncio.StreamReader) -> str:
    line = await reader.readline()
    if not line:
        raise ConnectionError("client closed")
    return line.decode("utf-8").rstrip("\r\n")


def answer_first_command(payload: bytes, repeat: bool = False) -> Handler:
    """Greet, read one command, answer it with ``payload`` (forever if ``repeat``)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hostile\r\n")
        await writer.drain()
        await read_command(reader)
        while True:
            writer.write(payload)
            await writer.drain()
            if not repeat:
                await reader.read()
                return

    return handler


def self_signed_context(directory: Path, name: str = "localhost") -> ssl.SSLContext:
    """A server context with a self-signed certificate (no CA anyone trusts)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "self-signed.pem", directory / "self-signed.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context
