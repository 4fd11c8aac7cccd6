"""Send a prepared message as it is (`smtpshell send --raw`, like `ssmtp rcpt < mail.txt`).

:func:`read_raw` checks a prepared RFC 5322 message and returns an
:class:`~smtpshell.send.message.OutgoingMessage` that sends it byte for byte, apart from
CRLF line ends and the Bcc fields, which are removed (see ``normalize.py`` for what is
refused). The envelope:

- recipients: the ``to`` addresses; without any, or with ``use_headers`` (``-t``), the
  addresses of the To, Cc and Bcc fields too. With both, both count, as in Postfix's
  sendmail: a recipient typed on the command line is never dropped silently.
- sender: ``sender`` ("" or "<>" for the null reverse path), else the first address of From
  (ssmtp's FromLineOverride).

A file is read twice: once now to check it and measure it, once per ``chunks()`` call
to send it, so memory stays flat whatever its size. A stream (standard input, a pipe)
cannot be read again: its normalised form is spooled (in memory up to 1 MiB, then in
a temporary file) while it is checked; ``close()`` the message to free the spool.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from typing import IO, BinaryIO

from smtpshell.errors import MessageChanged, MessageRefused, UnreadableInput
from smtpshell.protocol.inert import inert
from smtpshell.send.addresses import (
    Mailbox,
    envelope_address,
    parse_mailboxes,
    unique_recipients,
)
from smtpshell.send.message import (
    BLOCK_SIZE,
    OutgoingMessage,
    file_identity,
    in_blocks,
    reopen,
)
from smtpshell.send.normalize import RawPass

# Standard input stays in memory up to this size, then goes to a temporary file.
SPOOL_IN_MEMORY = 1024 * 1024
_SOURCE_FIELDS = {"to": "the To header", "cc": "the Cc header", "bcc": "the Bcc header"}


def read_raw(
    source: str | os.PathLike[str] | BinaryIO,
    to: Sequence[str] = (),
    sender: str | None = None,
    use_headers: bool = False,
) -> OutgoingMessage:
    """The prepared message in ``source`` (a path, or a binary stream read to its end),
    checked and ready to send; see the module docstring for the envelope."""
    given = [mailbox for text in to for mailbox in parse_mailboxes(text, "--to")]
    if sender is not None and sender.strip(" \t") == "<>":
        sender = ""  # the null reverse path as MAIL FROM writes it (sendmail -f '<>')
    if sender:
        envelope_address(sender, "--from")  # checked before a large input is read
    if not isinstance(source, (str, os.PathLike)):
        return _from_stream(source, "the message", given, sender, use_headers)
    path = os.fspath(source)
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below or handed to the stream path
    except OSError as exc:
        raise UnreadableInput(f"cannot read {inert(path)}: {exc.strerror or exc}") from exc
    with file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            # A pipe or a terminal (/dev/stdin, <(...)) can be read once only: spool it.
            return _from_stream(file, inert(path), given, sender, use_headers)
        scan = RawPass(inert(path))
        for _ in _reading(scan.run(file), path):
            pass
    content = FileContent(path, file_identity(status), scan.size)
    return _message(scan, content, given, sender, use_headers)


class FileContent:
    """A message file, normalised again each time it is sent."""

    def __init__(self, path: str, identity: tuple[int, int, int, int], size: int) -> None:
        self.path = path
        self.identity = identity
        self.size = size

    def chunks(self) -> Iterator[bytes]:
        where = inert(self.path)
        with reopen(self.path, self.identity) as file:
            sent = 0
            for block in in_blocks(RawPass(where).run(file)):
                sent += len(block)
                if sent > self.size:
                    raise MessageChanged(f"{where} got longer while being sent")
                yield block
            if sent != self.size:
                raise MessageChanged(f"{where} got shorter while being sent")

    def close(self) -> None:
        """Nothing to free: the file is open only while it is being sent."""


class SpooledContent:
    """The normalised copy of a stream; each ``chunks()`` reads it from the start."""

    def __init__(self, spool: IO[bytes]) -> None:
        self.spool = spool

    def chunks(self) -> Iterator[bytes]:
        position = 0
        while True:
            # Seek each time: two iterations may be interleaved (one abandoned mid-way).
            self.spool.seek(position)
            block = self.spool.read(BLOCK_SIZE)
            if not block:
                return
            position += len(block)
            yield block

    def close(self) -> None:
        self.spool.close()


def _from_stream(
    stream: BinaryIO,
    where: str,
    given: list[Mailbox],
    sender: str | None,
    use_headers: bool,
) -> OutgoingMessage:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    try:
        scan = RawPass(where)
        for block in _reading(scan.run(stream), where):
            spool.write(block)
        return _message(scan, SpooledContent(spool), given, sender, use_headers)
    except BaseException:
        spool.close()
        raise


def _reading(blocks: Iterator[bytes], where: str) -> Iterator[bytes]:
    """``blocks``, with a read error turned into UnreadableInput naming the source."""
    try:
        yield from blocks
    except OSError as exc:
        raise UnreadableInput(f"cannot read {inert(where)}: {exc.strerror or exc}") from exc


def _message(
    scan: RawPass,
    content: FileContent | SpooledContent,
    given: list[Mailbox],
    sender: str | None,
    use_headers: bool,
) -> OutgoingMessage:
    where = scan.where
    mailboxes = list(given)
    if use_headers or not given:
        for name, value in scan.fields:
            if name in _SOURCE_FIELDS:
                mailboxes += parse_mailboxes(_text(value, name, where), _SOURCE_FIELDS[name])
    recipients = unique_recipients(mailboxes)
    if not recipients:
        raise MessageRefused(
            f"{where}: no recipient: give --to, or To, Cc or Bcc fields in the message"
        )
    envelope_sender = _sender(scan, sender)
    return OutgoingMessage(
        sender=envelope_sender.addr_spec if envelope_sender else "",
        recipients=recipients,
        size=scan.size,
        needs_smtputf8=scan.utf8_headers
        or any(m.needs_smtputf8 for m in mailboxes)
        or (envelope_sender is not None and envelope_sender.needs_smtputf8),
        needs_8bitmime=scan.eight_bit,
        content=content,
    )


def _sender(scan: RawPass, sender: str | None) -> Mailbox | None:
    """The envelope sender: ``sender`` when given ("" gives None: the null reverse path),
    else the first address of the first From field."""
    if sender is not None:
        return envelope_address(sender, "--from") if sender else None
    for name, value in scan.fields:
        if name == "from":
            mailboxes = parse_mailboxes(_text(value, name, scan.where), "the From header")
            if mailboxes:
                return mailboxes[0]
    raise MessageRefused(f"{scan.where}: no sender: give --from, or a From field in the message")


def _text(value: bytes, name: str, where: str) -> str:
    try:
        return value.decode("utf-8").strip(" \t\r\n")
    except UnicodeDecodeError as exc:
        raise MessageRefused(f"{where}: the {name.title()} field is not UTF-8") from exc
