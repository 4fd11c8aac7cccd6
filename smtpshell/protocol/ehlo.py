"""EHLO replies: the server's name and its service extensions (RFC 5321 4.1.1.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from smtpshell.protocol.reply import Reply


@dataclass(frozen=True)
class Capabilities:
    """What the last EHLO reply advertised. Keywords are upper-case."""

    server_name: str = ""
    greeting_text: str = ""
    extensions: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def has(self, keyword: str) -> bool:
        return keyword.upper() in self.extensions

    def params(self, keyword: str) -> tuple[str, ...]:
        return self.extensions.get(keyword.upper(), ())

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        mechanisms = list(self.params("AUTH"))
        # Pre-RFC 4954 servers advertise "AUTH=LOGIN PLAIN" as well or instead.
        for mech in self.params("AUTH="):
            if mech not in mechanisms:
                mechanisms.append(mech)
        return tuple(mechanisms)

    @property
    def size_limit(self) -> int | None:
        values = self.params("SIZE")
        if values and values[0].isdigit():
            return int(values[0])
        return None


def parse_ehlo(reply: Reply) -> Capabilities:
    """Capabilities from a 250 EHLO reply; the first line names the server."""
    first, *rest = reply.lines or ("",)
    name, _, greeting = first.partition(" ")
    extensions: dict[str, tuple[str, ...]] = {}
    for line in rest:
        words = line.split()
        if not words:
            continue
        keyword = words[0].upper()
        params = tuple(words[1:])
        if keyword.startswith("AUTH="):
            params = (keyword[len("AUTH=") :], *params)
            keyword = "AUTH="
        extensions[keyword] = extensions.get(keyword, ()) + params
    return Capabilities(name, greeting, MappingProxyType(extensions))


# What each common extension means, for the capabilities table.
EXTENSION_HELP: Mapping[str, str] = MappingProxyType(
    {
        "8BITMIME": "8-bit message bodies (RFC 6152)",
        "AUTH": "SASL authentication (RFC 4954)",
        "AUTH=": "SASL authentication, pre-standard syntax",
        "BINARYMIME": "binary bodies, with CHUNKING (RFC 3030)",
        "BURL": "message by reference (RFC 4468)",
        "CHUNKING": "BDAT instead of DATA (RFC 3030)",
        "DELIVERBY": "deliver-by time (RFC 2852)",
        "DSN": "delivery status notifications (RFC 3461)",
        "ENHANCEDSTATUSCODES": "x.y.z status codes in replies (RFC 2034)",
        "ETRN": "remote queue start (RFC 1985)",
        "EXPN": "mailing-list expansion",
        "HELP": "HELP command",
        "MT-PRIORITY": "message priorities (RFC 6710)",
        "MTRK": "message tracking (RFC 3885)",
        "NO-SOLICITING": "no solicitation (RFC 3865)",
        "PIPELINING": "commands may be sent in batches (RFC 2920)",
        "REQUIRETLS": "require TLS along the path (RFC 8689)",
        "SIZE": "maximum message size (RFC 1870)",
        "SMTPUTF8": "UTF-8 addresses and headers (RFC 6531)",
        "STARTTLS": "upgrade to TLS (RFC 3207)",
        "VRFY": "address verification",
        "XCLIENT": "Postfix: client attribute override",
        "XFORWARD": "Postfix: forwarded client information",
    }
)
