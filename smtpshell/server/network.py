"""Addresses and ports for the embedded server's listeners; no third-party imports."""

from __future__ import annotations

import errno
import ipaddress
import socket

from smtpshell.errors import SmtpShellError
from smtpshell.protocol.endpoint import format_host


class ServerError(SmtpShellError):
    """The server could not start; the message is one line meant for the user."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (``127.0.0.0/8``, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def format_address(host: str, port: int) -> str:
    """``host:port``, IPv6 literals bracketed (RFC 3986 3.2.2), ``*`` for every interface."""
    return f"{format_host(host) if host else '*'}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (racy by nature: prefer port 0 where possible)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def listen_failure(host: str, port: int, exc: OSError) -> ServerError:
    where = format_address(host, port)
    if isinstance(exc, socket.gaierror):
        return ServerError(f"cannot listen on {where}: cannot resolve {host!r}")
    reasons = {
        errno.EADDRINUSE: "address already in use",
        errno.EACCES: "permission denied",
        errno.EADDRNOTAVAIL: "address not available on this machine",
    }
    reason = reasons.get(exc.errno or 0) or exc.strerror or str(exc)
    return ServerError(f"cannot listen on {where}: {reason}")
