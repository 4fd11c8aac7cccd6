"""Message data for DATA: CRLF normalisation and dot-stuffing (RFC 5321 4.5.2).

Both must hold across chunk boundaries when a message is streamed, and no bare CR
or LF may ever reach the server: SMTP smuggling (SEC Consult 2023,
CVE-2023-51764/51765/51766) abuses endings such as ``\\n.\\n`` and ``\\r.\\r``.
"""

from __future__ import annotations

from smtpshell.errors import CommandRejected

END_OF_DATA = b".\r\n"
# RFC 5321 4.5.3.1.6: 1000 octets including CRLF.
MAX_TEXT_LINE_OCTETS = 998


def stuff_line(line: bytes) -> bytes:
    """One message line (without line ending) as sent: leading dot doubled, CRLF added."""
    if line.startswith(b"."):
        line = b"." + line
    return line + b"\r\n"


class DataEncoder:
    """Streams a message: any of CRLF, LF or CR becomes CRLF; leading dots are doubled.

    ``feed`` returns the bytes ready to send; ``finish`` returns the rest and the
    terminating ``.CRLF``, adding a final CRLF when the message lacks one.
    """

    def __init__(self) -> None:
        self._line_start = True
        self._pending_cr = False

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to send for ``chunk``; a NUL is refused (CommandRejected)."""
        if b"\x00" in chunk:
            # RFC 5321 2.3.8 and RFC 6152 keep NUL out of DATA, and servers that drop
            # it would read "\r\n\x00.\r\n" as the end of the message (SMTP smuggling).
            raise CommandRejected(
                "the message holds a NUL byte, which DATA cannot carry (RFC 6152); "
                "nothing more of it was sent"
            )
        data = b"\r" + chunk if self._pending_cr else chunk
        # A CR at the end of a chunk may be the first half of a CRLF: hold it.
        self._pending_cr = data.endswith(b"\r")
        if self._pending_cr:
            data = data[:-1]
        if not data:
            return b""
        if b"\r" in data:  # text with LF endings (most piped input) is scanned once less
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._line_start and data.startswith(b"."):
            data = b"." + data
        data = data.replace(b"\n.", b"\n..")
        self._line_start = data.endswith(b"\n")
        return data.replace(b"\n", b"\r\n")

    def finish(self) -> bytes:
        out = bytearray()
        if self._pending_cr:
            out += b"\r\n"
            self._line_start = True
            self._pending_cr = False
        if not self._line_start:
            out += b"\r\n"
        out += END_OF_DATA
        self._line_start = True
        return bytes(out)
