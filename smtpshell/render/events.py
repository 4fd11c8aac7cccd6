"""Turns session events into coloured lines on a rich console, or plain lines on a
:class:`PlainConsole` (no colour wanted: rich is then never imported)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from smtpshell.core.events import (
    Closed,
    Connected,
    Event,
    Notice,
    Origin,
    Received,
    Sent,
    TlsStarted,
)
from smtpshell.core.tls import TlsInfo
from smtpshell.protocol.auth import decode_challenge
from smtpshell.protocol.inert import inert
from smtpshell.protocol.reply import Reply, ReplyClass, split_enhanced
from smtpshell.render.plain import PlainConsole, Printer

if TYPE_CHECKING:
    from rich.text import Text

_CLASS_STYLE = {
    ReplyClass.POSITIVE: "reply.positive",
    ReplyClass.INTERMEDIATE: "reply.intermediate",
    ReplyClass.TRANSIENT: "reply.transient",
    ReplyClass.PERMANENT: "reply.permanent",
    ReplyClass.UNKNOWN: "reply.unknown",
}


def reply_text(reply: Reply, decode_334: bool = True) -> Text:
    """A reply as the server wrote it, code coloured by class, enhanced code set off."""
    from rich.text import Text

    out = Text()
    for part, style in _reply_parts(reply, decode_334):
        out.append(part, style=style)
    return out


def reply_plain(reply: Reply, decode_334: bool = True) -> str:
    """:func:`reply_text` without its colours: the same characters."""
    return "".join(part for part, _ in _reply_parts(reply, decode_334))


def _reply_parts(reply: Reply, decode_334: bool) -> Iterator[tuple[str, str | None]]:
    style = _CLASS_STYLE[reply.kind]
    for index, line in enumerate(reply.wire_lines()):
        if index:
            yield "\n", None
        yield line[:3], style
        yield line[3:4], None
        enhanced, rest = split_enhanced(line[4:])
        if enhanced:
            yield enhanced, "reply.enhanced"
        yield inert(rest), "reply.text"
    if decode_334 and reply.code == 334 and len(reply.lines) == 1:
        decoded = decode_challenge(reply.lines[0])
        if decoded is not None and decoded.isprintable():
            yield f"   ({inert(decoded)})", "reply.decoded"


def tls_summary(info: TlsInfo) -> str:
    verified = "certificate verified" if info.verified else "certificate NOT verified"
    return f"TLS established: {info.version}, {info.cipher}; {verified}"


class EventRenderer:
    """Prints events. ``echo_user`` shows lines the user typed (off in the shell:
    the prompt already left them on screen)."""

    def __init__(self, console: Printer, echo_user: bool = False) -> None:
        self.console = console
        self.echo_user = echo_user
        # Without colour a reply is a plain string: no rich Text to build.
        self._reply = reply_plain if isinstance(console, PlainConsole) else reply_text

    def __call__(self, event: Event) -> None:
        console = self.console
        if isinstance(event, Received):
            if event.unsolicited:
                console.print("(unsolicited)", style="notice")
            console.print(self._reply(event.reply))
        elif isinstance(event, Sent):
            if event.origin is Origin.AUTO or self.echo_user:
                console.print(f"> {inert(event.display)}", style="client")
        elif isinstance(event, Connected):
            where = event.peer
            if str(event.endpoint) != event.peer:
                where = f"{event.endpoint} ({event.peer})"
            console.print(f"connected to {inert(where)}", style="notice")
            if event.tls:
                console.print(tls_summary(event.tls), style="tls")
        elif isinstance(event, TlsStarted):
            # RFC 3207 4.2: what the server said before TLS is void; say so unless
            # smtpshell sends the new EHLO itself (--starttls).
            again = "" if event.ehlo_follows else "; send EHLO again"
            console.print(tls_summary(event.info) + again, style="tls")
        elif isinstance(event, Notice):
            style = {"warning": "warning", "error": "error"}.get(event.level, "notice")
            prefix = "warning: " if event.level == "warning" else ""
            console.print(prefix + inert(event.text), style=style)
        elif isinstance(event, Closed):
            if event.failure:
                console.print(f"error: {inert(event.reason)}", style="error")
            else:
                style = "warning" if event.by_peer else "notice"
                console.print(inert(event.reason), style=style)
