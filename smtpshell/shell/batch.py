"""A piped session: standard input read in large chunks, message text streamed, and
an exit status a script can act on.

Lines are read as bytes and split on LF; a CR before the LF is dropped (CRLF input).
Commands must be UTF-8; message text goes out as it came (8-bit bodies, RFC 6152),
handed in blocks of many lines to the session's streaming writer instead of one
write and one executor hop per line.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, TextIO

from smtpshell.core.events import Closed, Connected, Event, Received, Sent
from smtpshell.errors import CommandRejected, SmtpShellError, UsageError
from smtpshell.protocol.commands import PIPELINE_MAY_CONTINUE, check_data_line, verb_of
from smtpshell.protocol.dotstuff import MAX_TEXT_LINE_OCTETS
from smtpshell.protocol.inert import inert
from smtpshell.protocol.state import AUTH_RESPONSE, END_DATA, GREETING

if TYPE_CHECKING:
    from smtpshell.core.events import Listener
    from smtpshell.core.session import Session
    from smtpshell.protocol.reply import Reply
    from smtpshell.shell.registry import Registry

# What one read asks for: a pipe gives what it holds (64 KiB by default), a file up
# to this much, so that a large message costs few hops to the reading thread.
CHUNK = 1 << 20
# The most message text handed to the session at once (unless one line is longer):
# what flow control lets go beyond the transport's high-water mark.
BLOCK = 1 << 16


class ReplyStatus(enum.IntEnum):
    """The exit status of a piped session whose commands got a 4xx or 5xx reply, by
    the stage of the first such command. The numbers are swaks's (its "exit codes by
    stage"), so a script written for one reads the other; 20 is ours."""

    OTHER = 20  # any other command: NOOP, RSET, VRFY, HELP, an unknown verb...
    GREETING = 21
    HELO = 22  # HELO, EHLO or LHLO
    MAIL = 23
    RCPT = 24
    DATA = 25
    MESSAGE = 26  # the reply to the message itself, after its "."
    QUIT = 27
    AUTH = 28  # AUTH or a response to its challenge
    STARTTLS = 29


_STAGES = {
    GREETING: ReplyStatus.GREETING,
    "HELO": ReplyStatus.HELO,
    "EHLO": ReplyStatus.HELO,
    "LHLO": ReplyStatus.HELO,
    "MAIL": ReplyStatus.MAIL,
    "RCPT": ReplyStatus.RCPT,
    "DATA": ReplyStatus.DATA,
    END_DATA: ReplyStatus.MESSAGE,
    "QUIT": ReplyStatus.QUIT,
    "AUTH": ReplyStatus.AUTH,
    AUTH_RESPONSE: ReplyStatus.AUTH,
    "STARTTLS": ReplyStatus.STARTTLS,
}


class ScriptStatus:
    """The first thing that went wrong decides the exit status, as in swaks, which
    stops there: 1 for a failure of smtpshell's own (a line refused, a lost
    connection), a :class:`ReplyStatus` for a 4xx or 5xx reply, 0 when neither came.
    ``count_replies=False`` (``--exit-zero``) leaves replies out of it."""

    def __init__(self, count_replies: bool = True) -> None:
        self.count_replies = count_replies
        self.value = 0

    def failed(self) -> None:
        if not self.value:
            self.value = 1

    def replied(self, event: Received) -> None:
        if self.value or not self.count_replies or event.answers is None:
            return  # unasked replies (an idle 421) answer no command of the script
        if event.reply.code >= 400:
            self.value = _STAGES.get(event.answers, ReplyStatus.OTHER)


def local_echo(registry: Registry, line: str) -> str | None:
    """How a line that runs a local command is echoed (``> caps``), its secret part
    masked as the screen masks it while typed; None for any other line."""
    if registry.match(line) is None:
        return None
    start = registry.secret_start(line)
    shown = line if start is None else f"{line[:start]}********"
    return f"> {inert(shown)}"


class GroupRole(enum.Enum):
    """What a line is to a pipelined command group (RFC 2920 3.1)."""

    NONE = enum.auto()  # not in a group: what is owed is waited for before it
    MEMBER = enum.auto()  # sent without waiting for its reply
    LAST = enum.auto()  # sent, then every reply owed is waited for


# RFC 2920 3.1: RSET, MAIL and RCPT may appear anywhere in a group; EHLO, DATA and
# QUIT (and, by RFC 3207 and RFC 4954, STARTTLS and AUTH) only last. Any other
# command (NOOP, VRFY, an unknown verb) waits for the replies owed before it goes.
_GROUP_ENDS = frozenset({"HELO", "EHLO", "LHLO", "DATA", "QUIT", "STARTTLS", "AUTH"})


def group_role(session: Session, registry: Registry, line: str) -> GroupRole:
    """Where ``line`` of a piped session goes in a pipelined group: only when the
    server advertised PIPELINING and the line is an SMTP command to send (not a
    local command, not message text, not an answer to a 334)."""
    capabilities = session.capabilities
    if (
        capabilities is None  # what was learned stays readable after a close
        or not session.connected
        or not capabilities.has("PIPELINING")
        or session.in_data
        or session.auth_pending
        or registry.match(line) is not None
    ):
        return GroupRole.NONE
    verb = verb_of(line.removeprefix("\\"))
    if verb in PIPELINE_MAY_CONTINUE:
        return GroupRole.MEMBER
    return GroupRole.LAST if verb in _GROUP_ENDS else GroupRole.NONE


class Pipeline:
    """Commands sent in a pipelined group whose replies have not been waited for."""

    def __init__(self) -> None:
        self._owed: list[tuple[str, asyncio.Future[Reply]]] = []

    def add(self, verb: str, future: asyncio.Future[Reply]) -> None:
        self._owed.append((verb, future))

    async def settle(self, session: Session, report: Callable[[str], None]) -> None:
        """Wait for every reply owed (each bounded by the session's time-out);
        ``report`` hears why one never came (a closed connection, a time-out)."""
        owed, self._owed = self._owed, []
        reported = set()
        for verb, future in owed:
            try:
                await session.wait_reply(future, verb)
            except SmtpShellError as exc:
                if str(exc) not in reported:  # one cause fails all that was owed
                    reported.add(str(exc))
                    report(str(exc))


class CommandsAboveReplies:
    """Passes a session's events on with each command just above its reply.

    A pipelined group (RFC 2920) goes out at once and its replies come back
    together; shown in that order, the reader would have to pair them up. So a
    command's Sent event is held while the reply to an earlier command is still to
    come, and passed on right after that reply. Replies keep their order (RFC 2920
    3.1), and every other event passes at once. A recorder listens apart and keeps
    the order of the wire, which a transcript writes as a pipelined group.
    """

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._held: deque[Sent] = deque()
        self._reply_owed = False  # the last command passed on awaits its reply

    def __call__(self, event: Event) -> None:
        if isinstance(event, Sent) and not event.in_data:
            if self._reply_owed:
                self._held.append(event)
                return
            self._reply_owed = True
        elif isinstance(event, Received) and event.answers is not None:
            self._listener(event)
            self._reply_owed = bool(self._held)
            if self._held:
                self._listener(self._held.popleft())
            return
        elif isinstance(event, (Closed, Connected)):
            # No reply will come for what is held: it was sent all the same.
            while self._held:
                self._listener(self._held.popleft())
            self._reply_owed = False
        self._listener(event)


class PipedInput:
    """Standard input as lines (commands) and blocks (message text).

    A text stream with a binary buffer (the real standard input) is read through
    the buffer, a pipeful at a time; any other text stream a line at a time.
    """

    def __init__(self, stream: TextIO) -> None:
        raw = getattr(stream, "buffer", None)
        self._read1: Callable[[int], bytes] | None = getattr(raw, "read1", None)
        self._stream = stream
        self._data = bytearray()
        self._start = 0  # where the unread data begins; always at the start of a line
        self._eof = False
        # Message text is being read: what follows, up to ".", is not a command.
        self.in_message = False
        self.number = 0  # the number of the last line taken, for messages

    # -- reading --------------------------------------------------------------

    def _read_chunk(self) -> bytes:
        """One read, blocking: run in a worker thread, or in ``readline``'s."""
        if self._read1 is not None:
            return self._read1(CHUNK)
        return self._stream.readline().encode("utf-8", "surrogateescape")

    def _append(self, chunk: bytes) -> bool:
        if not chunk:
            self._eof = True
            return False
        if self._start > len(self._data) // 2:
            del self._data[: self._start]
            self._start = 0
        self._data += chunk
        return True

    async def _fill(self) -> bool:
        """Read more; False at the end of the input."""
        if self._eof:
            return False
        chunk = await asyncio.get_running_loop().run_in_executor(None, self._read_chunk)
        return self._append(chunk)

    def _take_line(self, end: int) -> bytes:
        """The line from the read position to ``end`` (its LF or the end of input)."""
        line = bytes(self._data[self._start : end])
        self._start = min(end + 1, len(self._data))
        self.number += 1
        return line.removesuffix(b"\r")

    async def line(self) -> bytes | None:
        """The next line without its line ending; None at the end of the input."""
        scanned = 0  # how much after the read position holds no LF
        while True:
            end = self._data.find(b"\n", self._start + scanned)
            if end >= 0:
                return self._take_line(end)
            scanned = len(self._data) - self._start
            if not await self._fill():
                return self._take_line(len(self._data)) if scanned else None

    def readline(self) -> str:
        """The next line as text, its LF kept ("" at the end): what ``ask`` reads for
        a password. Blocking; called from a worker thread while the loop waits."""
        while (end := self._data.find(b"\n", self._start)) < 0:
            if self._eof or not self._append(self._read_chunk()):
                if self._start >= len(self._data):
                    return ""
                return self._take_line(len(self._data)).decode("utf-8", "surrogateescape")
        return self._take_line(end).decode("utf-8", "surrogateescape") + "\n"

    # -- message text ---------------------------------------------------------

    async def body(self, warn: Callable[[str], None]) -> AsyncGenerator[bytes, None]:
        """Message text up to the line "." (taken, not yielded), in blocks of whole
        lines as they arrived. A line holding a NUL or a CR other than the one
        before its LF raises CommandRejected before any of its block is yielded;
        input that ends before "." raises UsageError. ``warn`` hears about lines
        longer than RFC 5321 allows, once per message."""
        long_lines = _LongLines(warn)
        self.in_message = True
        scanned = 0  # how much after the read position holds no LF
        while True:
            complete = self._lines_end(scanned)
            if complete > self._start:
                stop = self._end_of_message(complete)
                block = bytes(self._data[self._start : complete if stop < 0 else stop])
                _check_block(block, self.number)
                long_lines.scan(block, self.number)
                self.number += block.count(b"\n")
                self._start += len(block)
                if block:
                    yield block
                if stop >= 0:
                    self._take_line(self._data.find(b"\n", stop))
                    break
                scanned = 0
                continue  # more whole lines may be in what was read
            scanned = len(self._data) - self._start
            if not await self._fill():
                if bytes(self._data[self._start :]) not in (b".", b".\r"):
                    raise _unfinished()
                self._take_line(len(self._data))  # "." with no line ending, then the end
                break
        self.in_message = False
        long_lines.report()

    def _lines_end(self, scanned: int) -> int:
        """Where the whole lines to take next end: as many as fit in BLOCK, or one
        longer line; the read position when no line is complete. ``scanned`` bytes
        after the read position are known to hold no LF: a line longer than a read
        is not searched again at every read."""
        data, start = self._data, self._start
        search_from = start + scanned
        if scanned < BLOCK < len(data) - start:
            end = data.rfind(b"\n", search_from, start + BLOCK) + 1
            if end:
                return end
            end = data.find(b"\n", start + BLOCK) + 1  # one line longer than a block
            return end or start
        return data.rfind(b"\n", search_from) + 1 or start

    def _end_of_message(self, end: int) -> int:
        """Where the line "." starts before ``end``, or -1."""
        data, start = self._data, self._start
        at = start - 1  # as if an LF came just before the read position
        while True:
            line = at + 1
            if data.startswith(b".\n", line) or data.startswith(b".\r\n", line):
                return line
            # One scan for any line that starts with a dot: few do.
            at = data.find(b"\n.", line, end)
            if at < 0:
                return -1

    async def body_lines(self) -> AsyncGenerator[bytes, None]:
        """Message text up to the line "." (taken, not yielded), a line at a time,
        each without its line ending. Input that ends before "." raises UsageError."""
        self.in_message = True
        while (line := await self.line()) is not None:
            if line == b".":
                self.in_message = False
                return
            yield line
        raise _unfinished()

    async def skip_body(self) -> tuple[int, int]:
        """Pass over message text that will not be sent, up to its line "." or the
        end of the input; the numbers of the first and last lines passed over."""
        first = self.number + 1
        while (line := await self.line()) is not None and line != b".":
            pass
        self.in_message = False
        return first, self.number


def _unfinished() -> UsageError:
    return UsageError("input ended inside the message (no line '.')")


def _check_block(block: bytes, before: int) -> None:
    """Refuse a block holding a NUL, or a CR that does not end its line: on a lax
    server either could end the message early (SMTP smuggling, CVE-2023-51764)."""
    if b"\x00" not in block and (b"\r" not in block or block.count(b"\r") == block.count(b"\r\n")):
        return
    for number, line in enumerate(block.split(b"\n"), before + 1):
        try:
            check_data_line(line.removesuffix(b"\r").decode("latin-1"))
        except CommandRejected as exc:
            raise CommandRejected(f"line {number}: {exc}") from None


class _LongLines:
    """RFC 5321 4.5.3.1.6 allows 998 octets a line: say so once per message."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self._warn = warn
        self._count = 0
        self._first = ""

    def scan(self, block: bytes, before: int) -> None:
        # The common case, no line too long, found in C: 999 octets may still be a
        # line of 998 and its CR.
        if max(map(len, block.split(b"\n"))) <= MAX_TEXT_LINE_OCTETS:
            return
        for number, line in enumerate(block.split(b"\n"), before + 1):
            octets = len(line.removesuffix(b"\r"))
            if octets > MAX_TEXT_LINE_OCTETS:
                self._count += 1
                self._first = self._first or f"line {number}, {octets} octets"

    def report(self) -> None:
        if self._count:
            lines = "a line" if self._count == 1 else f"{self._count} lines"
            self._warn(
                f"{lines} of this message over {MAX_TEXT_LINE_OCTETS} octets (the first: "
                f"{self._first}); RFC 5321 4.5.3.1.6 allows {MAX_TEXT_LINE_OCTETS}, "
                "servers may reject or break them"
            )
