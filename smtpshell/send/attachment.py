"""Attachments: checked when the message is built, streamed as base64 when it is sent.

A file is never read whole: it is encoded block by block at send time, so a 100 MB
attachment costs the same memory as a small one. Its size on the wire follows from
its size on disk, so SIZE= (RFC 1870) is exact before a byte of it is read. A file
that changes in between is caught (:class:`~smtpshell.errors.MessageChanged`)
rather than sent as something other than what was announced.
"""

from __future__ import annotations

import binascii
import mimetypes
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from smtpshell.errors import MessageChanged, MessageRefused, UnreadableInput
from smtpshell.protocol.inert import inert
from smtpshell.send.headers import check_header_value
from smtpshell.send.message import file_identity, reopen

# RFC 2045 6.8: base64 lines of at most 76 characters, i.e. 57 octets of input per
# line. 840 lines (47,880 octets in, 65,520 out with CRLFs) make one block under 64 KiB.
_LINE_INPUT = 57
_LINE_OUTPUT = 76
_BLOCK_INPUT = _LINE_INPUT * 840


@dataclass(frozen=True)
class Attachment:
    """A readable regular file, with what its MIME part needs to say about it."""

    path: str
    filename: str
    maintype: str
    subtype: str
    size: int
    # (device, inode, size, modification time): what the file was when checked.
    identity: tuple[int, int, int, int]

    @property
    def encoded_size(self) -> int:
        """Octets of its base64 body: 76-character lines joined by CRLF, none after the last."""
        return base64_size(self.size)

    def check_unchanged(self) -> None:
        """MessageChanged unless the file is as it was when the message was built."""
        try:
            status = os.stat(self.path)
        except OSError as exc:
            raise MessageChanged(f"{inert(self.path)} is gone: {exc.strerror}") from exc
        if file_identity(status) != self.identity:
            raise MessageChanged(f"{inert(self.path)} changed since the message was built")

    def encoded_blocks(self) -> Iterator[bytes]:
        """The base64 body, read from the file now; MessageChanged if it changed."""
        with reopen(self.path, self.identity) as file:
            remaining = self.size
            first = True
            while remaining:
                block = file.read(min(_BLOCK_INPUT, remaining))
                if not block:
                    raise MessageChanged(f"{inert(self.path)} got shorter while being sent")
                remaining -= len(block)
                encoded = binascii.b2a_base64(block, newline=False)
                lines = b"\r\n".join(
                    [encoded[i : i + _LINE_OUTPUT] for i in range(0, len(encoded), _LINE_OUTPUT)]
                )
                yield lines if first else b"\r\n" + lines
                first = False
            if file.read(1):
                raise MessageChanged(f"{inert(self.path)} got longer while being sent")


def base64_size(octets: int) -> int:
    """The length of ``octets`` bytes in base64 with CRLF between 76-character lines."""
    characters = -(-octets // 3) * 4
    lines = -(-characters // _LINE_OUTPUT)
    return characters + 2 * max(lines - 1, 0)


def check_attachment(path: str | os.PathLike[str]) -> Attachment:
    """The attachment at ``path``, after making sure it can be read now.

    UnreadableInput names the file when it is missing, unreadable or not a regular
    file (a pipe or a directory cannot be sent twice, as a fallback MX needs).
    """
    text = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait for one for
        # ever, before the check below could refuse it. A regular file ignores it.
        descriptor = os.open(text, os.O_RDONLY | os.O_NONBLOCK)
        with open(descriptor, "rb") as file:
            status = os.fstat(file.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise UnreadableInput(f"cannot attach {inert(text)}: not a regular file")
            file.read(1)
    except OSError as exc:
        raise UnreadableInput(f"cannot attach {inert(text)}: {exc.strerror or exc}") from exc
    filename = os.path.basename(text)
    try:
        check_header_value("Content-Disposition", filename)
    except MessageRefused as exc:
        raise MessageRefused(f"cannot attach {inert(text)}: its name is not plain text") from exc
    maintype, subtype = content_type(filename)
    return Attachment(
        os.path.abspath(text), filename, maintype, subtype, status.st_size, file_identity(status)
    )


def content_type(filename: str) -> tuple[str, str]:
    """The MIME type guessed from the name; application/octet-stream when unknown.

    A compressed file (``.tar.gz``) is guessed as its content with an encoding: sent
    as is, it is only octets. message/* and multipart/* parts may not be base64
    (RFC 2046 5.1, 5.2): an attached ``.eml`` goes as octets too.
    """
    guessed, encoding = mimetypes.guess_type(filename, strict=False)
    if guessed is None or encoding is not None:
        return "application", "octet-stream"
    maintype, _, subtype = guessed.partition("/")
    if maintype in ("message", "multipart") or not subtype:
        return "application", "octet-stream"
    return maintype, subtype
