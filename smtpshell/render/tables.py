"""Tables for the shell's local commands: `mx`, `caps`, `tls` and the `?` list.

Whatever a DNS server, an SMTP server or its certificate supplied goes into cells
as ``Text`` (never markup) passed through ``inert``: a name cannot recolour or
clear the terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from smtpshell.core.dns import MxResult
from smtpshell.protocol.ehlo import EXTENSION_HELP, Capabilities
from smtpshell.protocol.inert import inert

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Table
    from rich.text import Text

    from smtpshell.core.tls import TlsInfo

_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))
_BINARY = ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))
UNKNOWN = "(unknown extension)"
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def format_ttl(seconds: int) -> str:
    """``3600 (1 h)``, ``5400 (1 h 30 min)``: the raw TTL and a readable form."""
    if seconds <= 0:
        return str(seconds)
    parts: list[str] = []
    rest = seconds
    for size, unit in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count} {unit}")
        if len(parts) == 2:
            break  # two units say enough: "1 d 2 h", not "1 d 2 h 3 min 4 s"
    return f"{seconds} ({' '.join(parts)})"


def format_size(octets: int) -> str:
    """A SIZE limit: ``52428800 (50 MiB)``; 0 means no fixed limit (RFC 1870 4)."""
    if octets == 0:
        return "0 (no fixed limit)"
    for size, unit in _BINARY:
        if octets >= size:
            amount = f"{octets / size:.1f}".removesuffix(".0")
            return f"{octets} ({amount} {unit})"
    return f"{octets} bytes"


def mx_renderable(result: MxResult) -> RenderableType:
    """The `mx` answer: a note for a null or implicit MX, then the table."""
    from rich.console import Group
    from rich.text import Text

    source = f" (answered by {result.nameserver})" if result.nameserver else ""
    domain = inert(result.domain)
    if result.null_mx:
        return Text(f"{domain} accepts no mail: null MX '0 .' (RFC 7505){source}", style="warning")
    parts: list[RenderableType] = [Text(f"MX records for {domain}{source}", style="heading")]
    if result.implicit:
        parts.append(
            Text(
                f"no MX records: {domain}'s own address is its implicit MX (RFC 5321 5.1)",
                style="notice",
            )
        )
    parts.append(mx_table(result))
    return Group(*parts)


def mx_table(result: MxResult) -> Table:
    """Preference, host name, IPv4 and IPv6 addresses and TTL, in preference order."""
    table = _table("Pref", "Host name", "IPv4", "IPv6", "TTL")
    table.columns[0].justify = "right"
    for host in sorted(result.hosts, key=lambda h: (h.preference, h.name)):
        table.add_row(
            _cell(str(host.preference)),
            _cell(host.name),
            _cell(*host.ipv4) if host.ipv4 else _cell("-" if host.ipv6 else "(no address)"),
            _cell(*host.ipv6) if host.ipv6 else _cell("-"),
            _cell(format_ttl(host.ttl)),
        )
    return table


def capabilities_renderable(caps: Capabilities, tls: bool = False) -> RenderableType:
    """The last EHLO reply: the server's name, then one row per extension."""
    from rich.console import Group
    from rich.text import Text

    heading = f"EHLO reply from {inert(caps.server_name) or '(no name)'}"
    if caps.greeting_text:
        heading += f": {inert(caps.greeting_text)}"
    parts: list[RenderableType] = [Text(heading, style="heading")]
    if caps.extensions:
        parts.append(capabilities_table(caps))
    else:
        parts.append(Text("no extensions advertised (plain RFC 5321 only)", style="notice"))
    if not caps.auth_mechanisms and caps.has("STARTTLS") and not tls:
        parts.append(Text("no AUTH before TLS: type STARTTLS, then EHLO again", style="notice"))
    return Group(*parts)


def capabilities_table(caps: Capabilities) -> Table:
    """Extension, its parameters made readable, and what it means."""
    table = _table("Extension", "Parameters", "Meaning")
    for keyword, params in caps.extensions.items():
        table.add_row(_cell(keyword), _cell(_parameters(keyword, params)), _cell(_meaning(keyword)))
    return table


def tls_table(info: TlsInfo) -> Table:
    """The TLS version, cipher and verification, then the server's certificate."""
    rows = [
        ("version", info.version),
        ("cipher", f"{info.cipher} ({info.bits} bits)"),
        ("verified", "yes" if info.verified else "NO (--insecure)"),
    ]
    cert = info.certificate
    if cert is not None:
        # The server chose these names: an ESC in a subject must not reach the terminal.
        rows += [
            ("subject", cert.subject),
            ("alt names", ", ".join(cert.alt_names) or "(none)"),
            ("issuer", cert.issuer),
            ("valid from", cert.not_before.strftime(_TIME_FORMAT)),
            ("valid until", cert.not_after.strftime(_TIME_FORMAT)),
            ("SHA-256", cert.sha256),
        ]
    table = _two_columns()
    for name, value in rows:
        table.add_row(name, _cell(value))
    return table


def help_table(rows: Iterable[tuple[str, str]]) -> Table:
    """The local commands: usage, then what each does."""
    table = _two_columns()
    for usage, summary in rows:
        table.add_row(usage, summary)
    return table


def help_entry(usage: str, summary: str) -> RenderableType:
    """One local command: its usage as a heading, then what it does."""
    from rich.text import Text

    # A table, not plain text: wrapped at word boundaries to the terminal's width,
    # where a printed line would be cut mid-word by the terminal.
    grid = _two_columns()
    grid.add_column()
    grid.add_row(Text(usage, style="heading"))
    grid.add_row(Text(summary))
    return grid


def _parameters(keyword: str, params: tuple[str, ...]) -> str:
    if keyword == "SIZE":
        if not params:
            return "(no limit given)"
        if params[0].isascii() and params[0].isdigit():
            return " ".join((format_size(int(params[0])), *params[1:]))
    return " ".join(params)


def _meaning(keyword: str) -> str:
    return EXTENSION_HELP.get(keyword, UNKNOWN)


def _table(*headers: str) -> Table:
    from smtpshell.render.wrapping import WrappingTable

    # No box: the rows copy and paste (and pipe) as plain columns, as mxtoolbox's did.
    table = WrappingTable(box=None, header_style="heading", pad_edge=False, padding=(0, 2, 0, 0))
    for header in headers:
        table.add_column(header)
    return table


def _two_columns() -> Table:
    """Name and value, no header: a listing rather than a table."""
    from smtpshell.render.wrapping import WrappingTable

    return WrappingTable(show_header=False, box=None, pad_edge=False)


def _cell(*lines: str) -> Text:
    """One cell, one line per value; server text made visible line by line."""
    from rich.text import Text

    return Text("\n".join(inert(line) for line in lines))
