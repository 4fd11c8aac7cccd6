"""Where to connect and how: host, port, TLS mode, and the one parser for each.

Every layer writes and reads addresses the same way: the command line, the shell's
``connect``, the resolver option, transcripts' connect directives and the server.
``HOST``, ``HOST:PORT``, ``[IPV6]``, ``[IPV6]:PORT``, or a bare IPv6 literal, which
cannot carry a port (``::1:53`` is itself an address; RFC 3986 3.2.2 brackets).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smtpshell.errors import UsageError
from smtpshell.protocol.inert import is_inert

# RFC 5321 4.5.4.2 (relay), RFC 6409 (submission), RFC 8314 (submission over TLS).
SERVICE_PORTS = {"smtp": 25, "submission": 587, "smtps": 465, "submissions": 465}


class EndpointError(UsageError, ValueError):
    """An address, port or host that cannot be used; ``str(error)`` is one line."""


class TlsMode(enum.StrEnum):
    PLAIN = "plain"  # plain TCP; STARTTLS may still be typed
    STARTTLS = "starttls"  # plain TCP, EHLO and STARTTLS before anything else (RFC 3207)
    IMPLICIT = "implicit"  # TLS from the first byte, SMTPS (RFC 8314)

    @property
    def default_port(self) -> int:
        return 465 if self is TlsMode.IMPLICIT else 25

    @property
    def flag(self) -> str:
        """The command-line option that asks for this mode ("" for plain)."""
        return {"plain": "", "starttls": "--starttls", "implicit": "--tls"}[self.value]


def format_host(host: str) -> str:
    """A host as written before ``:PORT``: IPv6 literals in brackets."""
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{format_host(self.host)}:{self.port}"


def find_control(text: str, allow_tab: bool = False) -> str | None:
    """The first C0 control character or DEL in ``text``, or None.

    The one test for "no control characters": command arguments (bpo-43124), host
    names, credentials and anything else that would end a line or drive a terminal.
    """
    for char in text:
        code = ord(char)
        if (code < 0x20 and not (allow_tab and char == "\t")) or code == 0x7F:
            return char
    return None


def parse_port(text: str, *, allow_zero: bool = False, services: bool = False) -> int:
    """A port number from 1 to 65535 (0 too when ``allow_zero``: "pick a free one").

    With ``services``, the names of SERVICE_PORTS are accepted, as telnet and
    openssl accept ``smtp`` or ``submission``.
    """
    if services and text.casefold() in SERVICE_PORTS:
        return SERVICE_PORTS[text.casefold()]
    lowest = 0 if allow_zero else 1
    if not (text.isascii() and text.isdigit()) or not lowest <= int(text) <= 65535:
        raise EndpointError(f"port must be a number from {lowest} to 65535, not {text!r}")
    return int(text)


def split_host_port(text: str) -> tuple[str, str | None]:
    """``(host, port text or None)``; brackets removed from an IPv6 literal.

    The host is neither resolved nor validated beyond being non-empty and free of
    control characters and spaces.
    """
    text = text.strip()
    if not text:
        raise EndpointError("empty address: expected HOST[:PORT]")
    port: str | None = None
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or not host:
            raise EndpointError(f"bad address {text!r}: unclosed '[' or nothing inside")
        if rest:
            if not rest.startswith(":"):
                raise EndpointError(f"bad address {text!r}: expected ':PORT' after ']'")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host = text  # a name, an IPv4 address, or a bare IPv6 literal
    if not host:
        raise EndpointError(f"bad address {text!r}: no host")
    if not is_inert(host) or any(char.isspace() for char in host):
        # Also undecodable bytes from argv (surrogates) and bidi controls, which no
        # host name holds and which the resolver would choke on.
        raise EndpointError(
            f"bad address {text!r}: the host holds a space, a control character "
            "or bytes that are not UTF-8"
        )
    return host, port


def parse_endpoint(text: str, default_port: int, *, services: bool = False) -> Endpoint:
    """``HOST[:PORT]`` as an Endpoint; the port is ``default_port`` when not given."""
    host, port = split_host_port(text)
    if port is None:
        return Endpoint(host, default_port)
    try:
        return Endpoint(host, parse_port(port, services=services))
    except EndpointError:
        raise EndpointError(
            f"bad port {port!r} in {text!r}: a number from 1 to 65535 is needed"
        ) from None
