"""The other end of a connection: its address, the name TLS checks, and what went
wrong reaching it, in words."""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl

from smtpshell.core.tls import CertificateInfo, explain_tls_failure
from smtpshell.errors import NetworkError, SmtpTimeout, TlsError
from smtpshell.protocol.endpoint import Endpoint, TlsMode


def check_server_name(name: str) -> None:
    """TLS sends the server's name (SNI) and checks the certificate against it (RFC
    6066 3, RFC 6125): it must be an address or a name the IDNA codec can encode. A
    hostile MX name (raw bytes, 64+ character labels) fails here, in one line."""
    try:
        ipaddress.ip_address(name)
        return
    except ValueError:
        pass
    try:
        name.encode("idna")
    except UnicodeError as exc:
        raise TlsError(f"{name!r} cannot be a TLS server name ({exc})") from None


def format_peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(Endpoint(str(peer[0]), int(peer[1])))
    return str(peer)


def greeting_hint(endpoint: Endpoint, mode: TlsMode) -> str:
    """What a silent server may mean: one that waits for a TLS handshake greets no
    one who connects in plain text."""
    # 25 and 587 are plain-text ports by definition (RFC 5321, RFC 6409).
    if mode is TlsMode.IMPLICIT or endpoint.port in (25, 587):
        return ""
    if endpoint.port == 465:
        return " (port 465 usually expects implicit TLS: try --tls)"
    return " (a port that expects TLS from the first byte stays silent: try --tls)"


def connect_error(
    exc: Exception,
    endpoint: Endpoint,
    hostname: str,
    mode: TlsMode,
    timeout: float,
    refused: CertificateInfo | None = None,
) -> Exception:
    if isinstance(exc, TimeoutError):
        return SmtpTimeout(f"connecting to {endpoint} timed out after {timeout:g} s")
    if isinstance(exc, ssl.SSLError):
        return TlsError(explain_tls_failure(exc, hostname, mode, refused))
    if isinstance(exc, socket.gaierror):
        return NetworkError(f"cannot resolve {endpoint.host!r}: {exc.strerror}")
    if isinstance(exc, OSError):
        # asyncio's strerror repeats the address; the errno's own words are clearer.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return NetworkError(f"cannot connect to {endpoint}: {reason}")
    return exc


def is_loopback(peer: object) -> bool:
    """Whether a socket's peer address (``peername``) is on this machine's loopback."""
    if not isinstance(peer, tuple) or not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return address.is_loopback
