"""Where to connect: ``HOST[:PORT]`` with IPv6 literals in brackets."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smtpshell.errors import UsageError


class TlsMode(enum.Enum):
    PLAIN = "plain"  # plain TCP; STARTTLS may still be typed
    STARTTLS = "starttls"  # plain TCP, EHLO and STARTTLS before the prompt (RFC 3207)
    IMPLICIT = "implicit"  # TLS from the first byte, SMTPS (RFC 8314)

    @property
    def default_port(self) -> int:
        return 465 if self is TlsMode.IMPLICIT else 25


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_endpoint(text: str, default_port: int) -> Endpoint:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 literal."""
    text = text.strip()
    if not text:
        raise UsageError("empty host")
    port_text: str | None = None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not host:
            raise UsageError(f"bad address {text!r}: unclosed '['")
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"bad address {text!r}: expected ':PORT' after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host = text  # a name, an IPv4 address, or a bare IPv6 literal
    if not host:
        raise UsageError(f"bad address {text!r}: no host")
    if port_text is None:
        return Endpoint(host, default_port)
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise UsageError(f"bad port {port_text!r} in {text!r}")
    return Endpoint(host, int(port_text))
