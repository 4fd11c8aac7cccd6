"""SMTP replies: the value type and a sans-IO parser that frames bytes into replies.

RFC 5321 4.2: a reply is one or more lines ``code-text`` ending with ``code SP text``
(or a bare ``code``). The parser bounds both a line and a whole reply, because a
hostile or broken server can otherwise stream an endless ``250-`` reply.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from smtpshell.errors import ProtocolError, ReplyTooLong

# smtplib and aiosmtplib use the same per-line bound; 32 KiB per reply follows aiosmtplib.
MAX_LINE_BYTES = 8192
MAX_REPLY_BYTES = 32 * 1024

_LINE = re.compile(rb"^(\d{3})([ -]|$)(.*)$", re.DOTALL)
# RFC 3463: class.subject.detail at the start of the text.
_ENHANCED = re.compile(r"^([245]\.[0-9]{1,3}\.[0-9]{1,3})(?=\s|$)")


class ReplyClass(enum.Enum):
    """The meaning of a reply's first digit (RFC 5321 4.2.1)."""

    POSITIVE = 2
    INTERMEDIATE = 3
    TRANSIENT = 4
    PERMANENT = 5
    UNKNOWN = 0


@dataclass(frozen=True)
class Reply:
    """One complete reply: a code and the text of each of its lines."""

    code: int
    lines: tuple[str, ...]

    @property
    def kind(self) -> ReplyClass:
        first = self.code // 100
        try:
            return ReplyClass(first)
        except ValueError:
            return ReplyClass.UNKNOWN

    @property
    def is_positive(self) -> bool:
        return self.kind in (ReplyClass.POSITIVE, ReplyClass.INTERMEDIATE)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def enhanced_code(self) -> str | None:
        """The RFC 3463 enhanced status code of the first line, if any."""
        return split_enhanced(self.lines[0])[0] if self.lines else None

    def wire_lines(self) -> list[str]:
        """The reply as the server wrote it, one string per line without CRLF."""
        out = []
        last = len(self.lines) - 1
        for index, text in enumerate(self.lines):
            sep = " " if index == last else "-"
            code = f"{self.code:03d}"
            out.append(f"{code}{sep}{text}" if text or sep == "-" else code)
        return out

    def __str__(self) -> str:
        return "\n".join(self.wire_lines())


def split_enhanced(text: str) -> tuple[str | None, str]:
    """Split ``"2.1.0 Ok"`` into ``("2.1.0", " Ok")``; no enhanced code gives ``(None, text)``."""
    match = _ENHANCED.match(text)
    if match is None:
        return None, text
    return match.group(1), text[match.end() :]


def decode_text(raw: bytes) -> str:
    # Servers send UTF-8 (RFC 6531) or legacy bytes; keep every byte visible.
    return raw.decode("utf-8", errors="backslashreplace")


class ReplyParser:
    """Incremental framing of server bytes into :class:`Reply` objects.

    ``feed`` buffers bytes; ``next_reply`` returns the next complete reply or None.
    After a :class:`ProtocolError` the stream is desynchronised and must be closed.
    """

    def __init__(self, max_line: int = MAX_LINE_BYTES, max_reply: int = MAX_REPLY_BYTES) -> None:
        self._buffer = bytearray()
        self._code: int | None = None
        self._lines: list[str] = []
        self._reply_bytes = 0
        self._max_line = max_line
        self._max_reply = max_reply

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a returned reply."""
        return len(self._buffer) + self._reply_bytes

    @property
    def in_reply(self) -> bool:
        """True while a multi-line reply has started but not ended."""
        return self._code is not None

    def discard(self) -> int:
        """Drop everything buffered (STARTTLS, RFC 3207 5) and return how many bytes."""
        dropped = self.buffered
        self._buffer.clear()
        self._code = None
        self._lines = []
        self._reply_bytes = 0
        return dropped

    def next_reply(self) -> Reply | None:
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self._max_line:
                    raise ReplyTooLong(f"reply line longer than {self._max_line} bytes")
                return None
            if end + 1 > self._max_line:
                raise ReplyTooLong(f"reply line longer than {self._max_line} bytes")
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._reply_bytes += end + 1
            if self._reply_bytes > self._max_reply:
                raise ReplyTooLong(
                    f"reply longer than {self._max_reply // 1024} KiB "
                    f"({len(self._lines)} lines so far)"
                )
            reply = self._take_line(raw.removesuffix(b"\r"))
            if reply is not None:
                return reply

    def _take_line(self, raw: bytes) -> Reply | None:
        match = _LINE.match(raw)
        if match is None:
            shown = decode_text(raw[:80])
            raise ProtocolError(f"malformed reply line: {shown!r}")
        code = int(match.group(1))
        if self._code is not None and code != self._code:
            raise ProtocolError(f"reply line with code {code} inside a {self._code} reply")
        self._code = code
        self._lines.append(decode_text(match.group(3)))
        if match.group(2) == b"-":
            return None
        reply = Reply(code, tuple(self._lines))
        self._code = None
        self._lines = []
        self._reply_bytes = 0
        return reply
