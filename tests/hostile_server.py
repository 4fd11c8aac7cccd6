"""A scriptable hostile SMTP server that keeps every byte the client wrote, and a test
CA that issues certificates with any subject.

Each connection runs a script, a coroutine given a :class:`Peer`: send bytes in one
segment, drip them, read the client's lines, upgrade to TLS, stall a handshake,
half-close, reset. Tests then assert on what the user saw *and* on the exact bytes
the client put on the wire (``Peer.clear`` holds everything received in plain text).
"""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Script = Callable[["Peer"], Awaitable[None]]


class Peer:
    """One client connection, seen from the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.clear = bytearray()  # every byte received before TLS, in order
        self.secure = bytearray()  # every byte received inside TLS
        self.tls = False

    def _keep(self, data: bytes) -> bytes:
        (self.secure if self.tls else self.clear).extend(data)
        return data

    async def send(self, data: bytes) -> None:
        """``data`` in one write: one segment on loopback (Nagle is off)."""
        self.writer.write(data)
        await self.writer.drain()

    async def drip(self, data: bytes, interval: float) -> None:
        """One byte at a time, ``interval`` seconds apart (a slow or hostile link)."""
        for index in range(len(data)):
            self.writer.write(data[index : index + 1])
            await self.writer.drain()
            await asyncio.sleep(interval)

    async def line(self) -> bytes:
        """The client's next line, exactly as sent (CRLF included)."""
        data = await self.reader.readline()
        if not data:
            raise ConnectionError("the client closed the connection")
        return self._keep(data)

    async def command(self) -> str:
        return (await self.line()).decode("utf-8", "replace").rstrip("\r\n")

    async def drain_client(self) -> None:
        """Read (and keep) whatever the client sends until it closes."""
        while data := await self.reader.read(65536):
            self._keep(data)

    async def start_tls(self, context: ssl.SSLContext) -> None:
        await self.writer.start_tls(context)
        self.tls = True

    async def stall_handshake(self) -> None:
        """Answer nothing after a 220 to STARTTLS: keep every raw byte the client sends
        (its ClientHello, and anything it wrongly sends after it) until it closes."""
        await self.drain_client()

    def half_close(self) -> None:
        self.writer.write_eof()

    def reset(self) -> None:
        """Close with a TCP reset instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


async def well_behaved(
    peer: Peer,
    *,
    name: str = "hostile",
    extensions: Sequence[str] = (),
    tls: ssl.SSLContext | None = None,
    implicit: bool = False,
    end_of_data_delay: float = 0.0,
    rcpt_reply: bytes = b"250 ok\r\n",
) -> None:
    """A small receiver that behaves: the script a hostile test varies one part of.

    It greets as ``name`` (inside TLS first when ``implicit``), answers EHLO with
    ``extensions``, upgrades at STARTTLS with ``tls``, reads a message after DATA
    (answering its end after ``end_of_data_delay`` seconds, a slow queue), answers
    RCPT with ``rcpt_reply``, says 221 to QUIT and 250 to anything else.
    """
    if implicit:
        assert tls is not None
        await peer.start_tls(tls)
    await peer.send(f"220 {name} ESMTP\r\n".encode())
    while True:
        verb = (await peer.command()).split(" ", 1)[0].upper()
        if verb == "EHLO":
            lines = [name, *extensions]
            reply = "".join(f"250-{line}\r\n" for line in lines[:-1]) + f"250 {lines[-1]}\r\n"
            await peer.send(reply.encode())
        elif verb == "STARTTLS" and tls is not None:
            await peer.send(b"220 go ahead\r\n")
            await peer.start_tls(tls)
        elif verb == "DATA":
            await peer.send(b"354 go on\r\n")
            while await peer.line() != b".\r\n":
                pass
            await asyncio.sleep(end_of_data_delay)
            await peer.send(b"250 queued\r\n")
        elif verb == "RCPT":
            await peer.send(rcpt_reply)
        elif verb == "QUIT":
            await peer.send(b"221 bye\r\n")
            return
        else:
            await peer.send(b"250 ok\r\n")


class HostileServer:
    """Runs ``script`` for each connection in a thread, on a free loopback port unless
    ``host`` (another of this machine's addresses) or ``port`` are given."""

    def __init__(self, script: Script, host: str = "127.0.0.1", port: int = 0) -> None:
        self._script = script
        self.host = host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._done: set[asyncio.Task[None]] = set()
        self.port = port
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._finished = threading.Condition()
        self._finished_count = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = Peer(reader, writer)
        self.peers.append(peer)
        try:
            await self._script(peer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except Exception as exc:  # surfaced to the test through .errors
            self.errors.append(exc)
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort()
            with self._finished:
                self._finished_count += 1
                self._finished.notify_all()

    def wait_finished(self, connections: int = 1, timeout: float = 10) -> None:
        """Block until ``connections`` scripts have ended (the client went away)."""
        with self._finished:
            if not self._finished.wait_for(lambda: self._finished_count >= connections, timeout):
                raise TimeoutError(f"{connections} connection(s) not finished in {timeout} s")

    @property
    def clear(self) -> bytes:
        """Every byte all clients sent in plain text."""
        return b"".join(bytes(peer.clear) for peer in self.peers)

    def __enter__(self) -> HostileServer:
        self._thread.start()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._serve, self.host, self.port)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            for peer in self.peers:
                peer.writer.transport.abort()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if others:
                await asyncio.wait(others, timeout=5)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


# ------------------------------------------------------------------ the test CA


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


class TestCA:
    """A private CA whose certificates can carry any subject, any SANs or none."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, name: str = "smtpshell hostile test CA") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.directory = directory
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )  # fmt: skip
        self.ca_file = directory / "hostile-ca.pem"
        self.ca_file.write_bytes(_pem(self._cert))
        self._issued = 0

    def issue(
        self,
        subject: str = "localhost",
        dns_names: Sequence[str] | None = ("localhost",),
        ip_addresses: Sequence[str] = (),
        *,
        organisation: str | None = None,
        days_valid: tuple[int, int] = (-1, 30),
    ) -> Issued:
        """A leaf for ``subject`` (any text: escape sequences, bidi controls...).

        ``dns_names=None`` and no ``ip_addresses`` leaves out the subjectAltName
        extension entirely: a CN-only certificate, which RFC 6125 6.4.4 says a
        client must not match when it looks for a DNS name.
        """
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, subject)]
        if organisation is not None:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days_valid[0]))
            .not_valid_after(now + datetime.timedelta(days=days_valid[1]))
        )
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names or ()]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        self._issued += 1
        issued = Issued(
            self.directory / f"leaf-{self._issued}.pem", self.directory / f"leaf-{self._issued}.key"
        )
        issued.cert.write_bytes(_pem(cert) + _pem(self._cert))
        issued.key.write_bytes(_key_pem(key))
        return issued


def _pem(cert: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined,no-any-return]


def _key_pem(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined,no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
