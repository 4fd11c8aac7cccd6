"""A message ready for one SMTP transaction: its envelope, its size and its bytes.

:class:`OutgoingMessage` is what :func:`smtpshell.send.compose.compose` and
:func:`smtpshell.send.raw.read_raw` hand to the transaction code::

    with compose(request) as message:          # or read_raw(...)
        MAIL FROM:<message.sender> SIZE=message.size
             [BODY=8BITMIME if message.needs_8bitmime] [SMTPUTF8 if message.needs_smtputf8]
        RCPT TO:<r> for r in message.recipients
        DATA, then every block of message.chunks() through a dot-stuffing encoder

- ``sender`` is the envelope sender ("" for the null reverse path), ``recipients`` the
  envelope recipients (Bcc included, each once), both with IDNA-encoded domains.
- ``size`` is the exact octet count of what ``chunks()`` yields (RFC 1870 SIZE=), before
  dot-stuffing.
- ``chunks()`` yields the message with CRLF line ends and a final CRLF, NOT dot-stuffed
  (the session stuffs), in blocks of up to about 64 KiB. Each call starts over (files are
  reopened), so a fallback to the next MX can send the message again. It raises
  :class:`~smtpshell.errors.MessageChanged` when a file changed since the message was
  built: the session must then abandon the transaction rather than end DATA, since the
  message would not be the one announced.
- ``close()`` (or leaving the ``with`` block) frees a spooled copy of standard input.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import BinaryIO, Protocol

from smtpshell.errors import MessageChanged
from smtpshell.protocol.inert import inert

# About 64 KiB per block: big enough that one block is one write system call worth
# making, small enough that memory stays flat whatever the size of the message.
BLOCK_SIZE = 64 * 1024


class MessageContent(Protocol):
    """Where the bytes of a message come from (composed parts, a file, a spool)."""

    def chunks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class OutgoingMessage:
    """A message with its envelope; see the module docstring for the contract."""

    sender: str
    recipients: tuple[str, ...]
    size: int
    needs_smtputf8: bool
    needs_8bitmime: bool
    content: MessageContent = field(repr=False, compare=False)

    def chunks(self) -> Iterator[bytes]:
        """The message bytes (CRLF line ends, not dot-stuffed), from the start each call."""
        return self.content.chunks()

    def close(self) -> None:
        self.content.close()

    def __enter__(self) -> OutgoingMessage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def in_blocks(pieces: Iterable[bytes], size: int = BLOCK_SIZE) -> Iterator[bytes]:
    """``pieces`` regrouped into blocks of about ``size`` octets (small pieces joined,
    none split), so the session is not handed one tiny header line at a time."""
    pending: list[bytes] = []
    pending_size = 0
    for piece in pieces:
        if not piece:
            continue
        if pending and pending_size + len(piece) > size:
            yield b"".join(pending)
            pending, pending_size = [], 0
        pending.append(piece)
        pending_size += len(piece)
    if pending:
        yield b"".join(pending)


def file_identity(status: os.stat_result) -> tuple[int, int, int, int]:
    """What a file was when checked (device, inode, size, modification time): a file
    whose identity differs when it is sent has changed, and its size may be wrong."""
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def reopen(path: str, identity: tuple[int, int, int, int]) -> BinaryIO:
    """``path`` opened again to be sent, if it is still the file that was checked;
    MessageChanged otherwise: the size announced with SIZE would be wrong."""
    where = inert(path)
    try:
        file = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise MessageChanged(f"{where} is gone: {exc.strerror}") from exc
    if file_identity(os.fstat(file.fileno())) != identity:
        file.close()
        raise MessageChanged(f"{where} changed since it was checked")
    return file
