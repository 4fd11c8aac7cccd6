"""What ``smtpshell send --dry-run`` shows: the envelope, then the message, made inert.

:func:`preview_lines` yields text lines (no line ends) for the caller to write: the
MAIL FROM and RCPT TO commands the transaction would send (with the SIZE=, BODY= and
SMTPUTF8 parameters it would add when the server offers them), an empty line, then
the message as ``chunks()`` yields it, line by line. The message comes from a file or
a pipe: every character that could act on a terminal or hide what follows (ESC, bidi
overrides, bytes that are not UTF-8) is shown as a visible escape by
:func:`smtpshell.protocol.inert.inert`. It streams: a 100 MB message is never held.
"""

from __future__ import annotations

from collections.abc import Iterator

from smtpshell.protocol.inert import inert
from smtpshell.send.message import OutgoingMessage


def envelope_lines(message: OutgoingMessage) -> list[str]:
    """MAIL FROM and one RCPT TO per recipient, as the transaction would send them."""
    parameters = [f"SIZE={message.size}"]
    if message.needs_8bitmime:
        parameters.append("BODY=8BITMIME")
    if message.needs_smtputf8:
        parameters.append("SMTPUTF8")
    lines = [inert(f"MAIL FROM:<{message.sender}> {' '.join(parameters)}")]
    lines += [inert(f"RCPT TO:<{recipient}>") for recipient in message.recipients]
    return lines


def message_lines(message: OutgoingMessage) -> Iterator[str]:
    """The message's lines without their CRLF, decoded as UTF-8, made inert."""
    rest = b""
    for chunk in message.chunks():
        lines = (rest + chunk).split(b"\r\n")
        rest = lines.pop()
        for line in lines:
            yield inert(line.decode("utf-8", "surrogateescape"))
    if rest:  # never for a message from this package: it ends in CRLF
        yield inert(rest.decode("utf-8", "surrogateescape"))


def preview_lines(message: OutgoingMessage) -> Iterator[str]:
    """The envelope, an empty line, and the message: what ``--dry-run`` prints."""
    yield from envelope_lines(message)
    yield ""
    yield from message_lines(message)
