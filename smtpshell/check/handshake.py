"""A bare STARTTLS handshake that keeps what the verified session cannot show.

The checking session (exchanger.py) verifies the certificate as a sender would and
stops there when verification fails. To say *why* (expiry, key) and to match DANE
records, the check needs the certificate itself whatever its state, and to see
whether the server still speaks TLS 1.0 or 1.1 it needs a context a session would
never use. This module does the short dialogue for those: greeting, EHLO,
STARTTLS, handshake, QUIT; it trusts nothing it receives and sends no mail.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import warnings
from dataclasses import dataclass

from smtpshell.errors import NetworkError, ProtocolError

_MAX_LINES = 100  # a reply longer than this is not an SMTP server worth reading
_LINE_LIMIT = 8192  # RFC 5321 4.5.3.1.5 allows 512; servers stretch it, not this far


class HandshakeCut(NetworkError):
    """The server ended the connection during the TLS handshake, without an alert
    that said why: a refusal, as far as a client can tell."""


@dataclass(frozen=True)
class Handshake:
    """What one handshake gave: the version agreed and the certificates presented."""

    version: str
    cipher: str
    leaf: bytes | None  # DER
    chain: tuple[bytes, ...] | None  # DER, leaf first; None where Python cannot give it


def unverified_context() -> ssl.SSLContext:
    """For reading what the server presents, never for trusting it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def legacy_context() -> ssl.SSLContext:
    """Offers TLS 1.0 and 1.1 only (RFC 8996 deprecates both), to see if they are taken.

    OpenSSL's default security level refuses them on the client side; level 0 lets
    this machine offer them. If it still cannot, the caller says so instead of
    claiming the server refused.
    """
    context = unverified_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated: that is the point
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def starttls_handshake(
    address: str, port: int, server_name: str, context: ssl.SSLContext, helo: str, timeout: float
) -> Handshake:
    """Greeting, EHLO, STARTTLS and a handshake with ``context``; then QUIT.

    Raises ``ssl.SSLError`` for a failed handshake, ``OSError``/``TimeoutError`` for the
    network, and `ProtocolError` when the server does not get as far as STARTTLS.
    """
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(address, port, limit=_LINE_LIMIT)
    try:
        async with asyncio.timeout(timeout):
            return await _dialogue(reader, writer, server_name, context, helo)
    finally:
        writer.transport.abort()  # nothing more to say, and no close_notify to wait for
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _dialogue(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    server_name: str,
    context: ssl.SSLContext,
    helo: str,
) -> Handshake:
    await _expect(reader, 220, "greeting")
    writer.write(f"EHLO {helo}\r\n".encode("ascii"))
    await _expect(reader, 250, "EHLO")
    writer.write(b"STARTTLS\r\n")
    await _expect(reader, 220, "STARTTLS")
    try:
        await writer.start_tls(context, server_hostname=server_name)
    except ConnectionError as exc:
        raise HandshakeCut(
            f"the server closed the connection during the handshake ({exc})"
        ) from exc
    ssl_object = writer.get_extra_info("ssl_object")
    assert isinstance(ssl_object, ssl.SSLObject)
    cipher = ssl_object.cipher()
    leaf = ssl_object.getpeercert(binary_form=True) or None
    handshake = Handshake(
        ssl_object.version() or "?", cipher[0] if cipher else "?", leaf, _chain(ssl_object)
    )
    writer.write(b"QUIT\r\n")
    with contextlib.suppress(Exception):
        await writer.drain()
    return handshake


def _chain(ssl_object: ssl.SSLObject) -> tuple[bytes, ...] | None:
    # SSLObject.get_unverified_chain() came with Python 3.13.
    method = getattr(ssl_object, "get_unverified_chain", None)
    if method is None:
        return None
    return tuple(
        cert if isinstance(cert, bytes) else cert.public_bytes() for cert in method() or ()
    )


async def _expect(reader: asyncio.StreamReader, code: int, what: str) -> None:
    for _ in range(_MAX_LINES):
        try:
            line = await reader.readline()
        except ValueError as exc:  # longer than the limit
            raise ProtocolError(f"{what}: a reply line too long") from exc
        if not line:
            raise ProtocolError(f"{what}: the server closed the connection")
        if line[3:4] == b"-":
            continue
        if line[:3] != str(code).encode():
            raise ProtocolError(
                f"{what}: the server answered {line[:3].decode('ascii', 'replace')}"
            )
        return
    raise ProtocolError(f"{what}: a reply of more than {_MAX_LINES} lines")
