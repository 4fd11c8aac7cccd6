"""One pass over a prepared message: CRLF line ends, Bcc removed, problems refused.

:class:`RawPass` reads a message from a binary stream and yields it as it must be sent:
every line end CRLF (a bare LF becomes CRLF), every Bcc field removed with its
continuation lines, and otherwise byte for byte what was read. On the way it records
what the envelope needs (the From, To, Cc and Bcc fields), the size, and whether any
octet is 8-bit. It refuses, naming the line:

- a bare CR (not followed by LF): ``\\r.\\r`` and friends end DATA early on some
  servers and smuggle a second message (SEC Consult 2023, CVE-2023-51764/51765/51766);
- a NUL, which DATA may not carry (RFC 5321 4.5.2, RFC 6152) and which some servers
  drop, with the same effect;
- a header block that is not one (a line that is neither a field nor its continuation
  before the empty line), or one over :data:`HEADER_LIMIT` octets.

The header block is read line by line (it is small and bounded); the body in blocks,
with a CR at the end of a block held back until the next shows whether an LF follows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from smtpshell.errors import MessageRefused
from smtpshell.send.message import BLOCK_SIZE

# A header block is a few KiB; a megabyte of it is a mistake (a binary file, a message
# without the empty line) that we should name rather than hold in memory.
HEADER_LIMIT = 1024 * 1024
# RFC 5322 3.6.8 field name (ftext), then optional white space (obsolete syntax, 4.5).
_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
# The fields whose addresses the envelope may need.
ADDRESS_FIELDS = ("from", "to", "cc", "bcc")


class RawPass:
    """Normalises one message from ``stream``; ``where`` names it in errors, and the
    body is read ``block_size`` octets at a time.

    Iterate :meth:`run` to the end; then ``size``, ``eight_bit``, ``utf8_headers`` and
    ``fields`` (the From/To/Cc/Bcc values, unfolded) describe what it yielded.
    """

    def __init__(self, where: str, block_size: int = BLOCK_SIZE) -> None:
        self.where = where
        self.block_size = block_size
        self.size = 0
        self.eight_bit = False
        self.utf8_headers = False
        self.fields: list[tuple[str, bytes]] = []
        self._line = 0

    def run(self, stream: BinaryIO) -> Iterator[bytes]:
        """The normalised message, a header block then body blocks."""
        header, more = self._header(stream)
        yield self._count(header)
        self.utf8_headers = not header.isascii()
        ends_with_line_end = True
        if more:
            for block in self._body(stream):
                ends_with_line_end = block.endswith(b"\n")
                yield self._count(block)
        if not ends_with_line_end:
            # The last line gets its line end, as DATA must end in CRLF anyway.
            yield self._count(b"\r\n")

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        self.eight_bit = self.eight_bit or not data.isascii()
        return data

    def _header(self, stream: BinaryIO) -> tuple[bytes, bool]:
        """The header block as sent (Bcc removed) and whether a body may follow."""
        kept: list[bytes] = []
        field: list[bytes] = []
        name = b""
        read = 0
        while True:
            line = stream.readline(HEADER_LIMIT - read + 1)
            read += len(line)
            if read > HEADER_LIMIT:
                raise MessageRefused(
                    f"{self.where}: no empty line ends the header block in its first "
                    f"{HEADER_LIMIT // 1024} KiB"
                )
            if not line:
                self._keep(name, field, kept)
                if not kept:
                    raise MessageRefused(f"{self.where}: the message is empty")
                return b"".join(kept), False  # headers only: RFC 5322 3.5 allows it
            self._line += 1
            content = self._line_content(line)
            if not content:
                self._keep(name, field, kept)
                return b"".join([*kept, b"\r\n"]), True
            if content[:1] in (b" ", b"\t"):
                if not field:
                    raise MessageRefused(
                        f"{self.where}: line {self._line} continues a header field, "
                        "but none comes before it"
                    )
                field.append(content)
                continue
            match = _FIELD.match(content)
            if match is None:
                raise MessageRefused(self._not_a_field(content))
            self._keep(name, field, kept)
            name, field = match.group(1).lower(), [content]

    def _line_content(self, line: bytes) -> bytes:
        """A header line without its line end (CRLF or LF), after the checks."""
        if line.endswith(b"\r\n"):
            content = line[:-2]
        elif line.endswith(b"\n"):
            content = line[:-1]
        else:
            content = line  # the last line of the input, without a line end
        self._check(content, None)
        return content

    def _keep(self, name: bytes, field: list[bytes], kept: list[bytes]) -> None:
        if not field:
            return
        if name.decode("ascii") in ADDRESS_FIELDS:
            value = b"".join(field).split(b":", 1)[1]  # unfolded (RFC 5322 2.2.3)
            self.fields.append((name.decode("ascii"), value))
        if name != b"bcc":
            # Bcc is for the envelope only: its field never leaves (RFC 5322 3.6.3).
            kept.append(b"\r\n".join(field) + b"\r\n")

    def _not_a_field(self, content: bytes) -> str:
        hint = ""
        if self._line == 1 and content.startswith(b"From "):
            hint = " (an mbox 'From ' line? remove it)"
        return (
            f"{self.where}: line {self._line} is neither a header field nor the empty line "
            f"that ends the header block{hint}"
        )

    def _body(self, stream: BinaryIO) -> Iterator[bytes]:
        held_cr = b""
        # read1 where there is one: it returns what one read gives, so on a terminal a
        # single Ctrl-D ends the text (read() would wait for a second one to fill the
        # block), and through a pipe each pipeful goes on at once.
        read = getattr(stream, "read1", stream.read)
        while True:
            block = read(self.block_size)
            if not block:
                break
            block = held_cr + block
            # A CR ending the block may be the first half of a CRLF: wait for the next.
            held_cr = b"\r" if block.endswith(b"\r") else b""
            if held_cr:
                block = block[:-1]
            self._check(block, self._line)
            crlf = block.count(b"\r\n")
            lf = block.count(b"\n")
            if lf != crlf:
                block = block.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            self._line += lf
            if block:
                yield block
        if held_cr:
            self._check(held_cr, self._line)  # a CR that ends the input

    def _check(self, data: bytes, lines_before: int | None) -> None:
        """Refuse a NUL or a bare CR in ``data``, naming the line it is on: ``data`` is
        the current header line (``lines_before`` None) or a body block."""
        nul = data.find(b"\x00")
        if nul >= 0:
            raise MessageRefused(
                f"{self.where}: line {self._line_of(data, nul, lines_before)} holds a NUL "
                "byte, which DATA cannot carry (RFC 6152); nothing was sent"
            )
        if data.count(b"\r") == data.count(b"\r\n"):
            return
        position = data.find(b"\r")
        while data[position + 1 : position + 2] == b"\n":
            position = data.find(b"\r", position + 1)
        raise MessageRefused(
            f"{self.where}: line {self._line_of(data, position, lines_before)} holds a bare "
            "CR (one not followed by LF): refusing to send it (SMTP smuggling, "
            "CVE-2023-51764); nothing was sent"
        )

    def _line_of(self, data: bytes, position: int, lines_before: int | None) -> int:
        if lines_before is None:  # a header line: data is that one line
            return self._line
        return lines_before + data.count(b"\n", 0, position) + 1
