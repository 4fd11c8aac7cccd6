"""Piped sessions pipeline (RFC 2920) when the server offers PIPELINING: MAIL, RCPT
and DATA go out as one group, the message text only after a 354, and nothing after
the end-of-data dot until its reply. Each scripted server below answers nothing
until it has read what the client must have sent without waiting, and reads what
arrives in one read, so the grouping is seen on the wire, not inferred from time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from cli_runner import run_cli
from hostile_server import HostileServer, Peer

from smtpshell.shell.batch import ReplyStatus

EHLO_PIPELINING = b"250-pipe.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
EHLO_PLAIN = b"250-plain.test\r\n250 8BITMIME\r\n"

SCRIPT = (
    "EHLO me\n"
    "MAIL FROM:<a@example.test>\n"
    "RCPT TO:<b@example.test>\n"
    "RCPT TO:<c@example.test>\n"
    "DATA\n"
    "Subject: grouped\n"
    "\n"
    "the text\n"
    ".\n"
    "QUIT\n"
)


class Reads:
    """What the server read from the client, one entry per read() that returned."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.chunks: list[bytes] = []
        self._buffer = b""

    async def lines(self, count: int) -> list[bytes]:
        """The client's next ``count`` lines, reading as many times as it takes."""
        while self._buffer.count(b"\r\n") < count:
            data = await self.peer.reader.read(65536)
            if not data:
                raise ConnectionError("the client closed the connection")
            self.chunks.append(data)
            self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\r\n", count)
        return [line + b"\r\n" for line in lines]

    async def until_end_of_data(self) -> bytes:
        text = b""
        while not text.endswith(b"\r\n.\r\n"):
            text += b"".join(await self.lines(1))
        return text


@contextmanager
def through_a_pipe(text: str) -> Iterator[TextIO]:
    """``text`` on the read end of a real pipe, as the shell's standard input is when
    a script is piped in: read a pipeful at a time, not a line at a time."""
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as writer:
        writer.write(text.encode())  # small: fits in the pipe's buffer
    with open(read_end, encoding="utf-8") as reader:
        yield reader


def run_piped(port: int, script: str) -> tuple[str, str, int]:
    with through_a_pipe(script) as stdin:
        return run_cli("--timeout", "5", "127.0.0.1", str(port), stdin=stdin)


async def _greet(peer: Peer, reads: Reads, ehlo: bytes) -> None:
    await peer.send(b"220 test ESMTP\r\n")
    assert (await reads.lines(1))[0].startswith(b"EHLO")
    await peer.send(ehlo)


def test_mail_rcpt_rcpt_data_reach_the_server_in_one_read_before_any_reply() -> None:
    seen: dict[str, object] = {}

    async def script(peer: Peer) -> None:
        reads = Reads(peer)
        await _greet(peer, reads, EHLO_PIPELINING)
        first = len(reads.chunks)
        # Nothing is answered until all four are in: a client that waited for the
        # reply to MAIL would never send RCPT (and would time out).
        group = await reads.lines(4)
        seen["group"] = group
        seen["reads"] = reads.chunks[first:]
        await peer.send(b"250 sender ok\r\n250 rcpt ok\r\n250 rcpt ok\r\n354 go on\r\n")
        seen["text"] = await reads.until_end_of_data()
        await peer.send(b"250 queued\r\n")
        assert await reads.lines(1) == [b"QUIT\r\n"]
        await peer.send(b"221 bye\r\n")

    with HostileServer(script) as server:
        out, err, status = run_piped(server.port, SCRIPT)
        server.wait_finished()
    assert not server.errors, server.errors
    assert status == 0, err
    assert seen["group"] == [
        b"MAIL FROM:<a@example.test>\r\n",
        b"RCPT TO:<b@example.test>\r\n",
        b"RCPT TO:<c@example.test>\r\n",
        b"DATA\r\n",
    ]
    assert len(seen["reads"]) == 1  # type: ignore[arg-type]  # one segment, one read
    assert seen["text"] == b"Subject: grouped\r\n\r\nthe text\r\n.\r\n"
    # Each command is shown just above its own reply, as without pipelining.
    lines = out.splitlines()
    start = lines.index("> MAIL FROM:<a@example.test>")
    assert lines[start : start + 8] == [
        "> MAIL FROM:<a@example.test>",
        "250 sender ok",
        "> RCPT TO:<b@example.test>",
        "250 rcpt ok",
        "> RCPT TO:<c@example.test>",
        "250 rcpt ok",
        "> DATA",
        "354 go on",
    ]


def test_a_refused_rcpt_in_the_group_leads_to_554_and_the_text_is_not_sent() -> None:
    after_data: list[bytes] = []
    received: list[bytes] = []

    async def script(peer: Peer) -> None:
        reads = Reads(peer)
        await _greet(peer, reads, EHLO_PIPELINING)
        await reads.lines(3)  # MAIL, RCPT, DATA
        await peer.send(b"250 ok\r\n550 5.1.1 no such user\r\n554 5.5.1 no valid recipients\r\n")
        after_data.extend(await reads.lines(1))
        await peer.send(b"221 bye\r\n")
        received.extend(reads.chunks)

    stdin = "EHLO me\nMAIL FROM:<a@x.test>\nRCPT TO:<nobody@x.test>\nDATA\nsecret text\n.\nQUIT\n"
    with HostileServer(script) as server:
        out, err, status = run_piped(server.port, stdin)
        server.wait_finished()
    assert not server.errors, server.errors
    assert after_data == [b"QUIT\r\n"]  # the message text never went out
    assert b"secret text" not in b"".join(received)
    assert status == ReplyStatus.RCPT == 24, (out, err)
    assert "message text not sent (lines 5-6)" in out
    lines = out.splitlines()
    start = lines.index("> RCPT TO:<nobody@x.test>")
    assert lines[start : start + 4] == [
        "> RCPT TO:<nobody@x.test>",
        "550 5.1.1 no such user",
        "> DATA",
        "554 5.5.1 no valid recipients",
    ]


def test_without_pipelining_each_command_waits_for_its_reply() -> None:
    reads_per_command: list[int] = []

    async def script(peer: Peer) -> None:
        reads = Reads(peer)
        await _greet(peer, reads, EHLO_PLAIN)
        for reply in (b"250 ok\r\n", b"250 ok\r\n", b"354 go on\r\n"):
            before = len(reads.chunks)
            await reads.lines(1)
            # Nothing but the one command came: the next waits for this reply.
            assert reads._buffer == b""
            reads_per_command.append(len(reads.chunks) - before)
            await peer.send(reply)
        await reads.until_end_of_data()
        await peer.send(b"250 queued\r\n")
        await reads.lines(1)
        await peer.send(b"221 bye\r\n")

    stdin = "EHLO me\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\nDATA\ntext\n.\nQUIT\n"
    with HostileServer(script) as server:
        _out, err, status = run_piped(server.port, stdin)
        server.wait_finished()
    assert not server.errors, server.errors
    assert status == 0, err
    assert reads_per_command == [1, 1, 1]


def test_nothing_is_pipelined_after_the_final_dot_nor_before_noop() -> None:
    """Haraka answers 503 to commands pipelined after the end-of-data dot; NOOP and
    local commands wait for the replies owed before them."""
    tails: list[bytes] = []

    async def script(peer: Peer) -> None:
        reads = Reads(peer)
        await _greet(peer, reads, EHLO_PIPELINING)
        await reads.lines(3)
        await peer.send(b"250 ok\r\n250 ok\r\n354 go on\r\n")
        await reads.until_end_of_data()
        tails.append(reads._buffer)  # what came with the dot, before its reply
        await peer.send(b"250 queued\r\n")
        await reads.lines(2)  # MAIL and RCPT of the second message, grouped
        tails.append(reads._buffer)  # NOOP must not be here yet
        await peer.send(b"250 ok\r\n250 ok\r\n")
        assert await reads.lines(1) == [b"NOOP\r\n"]
        await peer.send(b"250 noop\r\n")
        assert await reads.lines(1) == [b"QUIT\r\n"]
        await peer.send(b"221 bye\r\n")

    stdin = (
        "EHLO me\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\nDATA\ntext\n.\n"
        "MAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\nNOOP\nQUIT\n"
    )
    with HostileServer(script) as server:
        out, err, status = run_piped(server.port, stdin)
        server.wait_finished()
    assert not server.errors, server.errors
    assert status == 0, err
    assert tails == [b"", b""]
    assert out.index("> NOOP") > out.rindex("> RCPT TO:<b@x.test>")


def test_a_connection_lost_in_the_middle_of_a_group_is_one_error() -> None:
    async def script(peer: Peer) -> None:
        reads = Reads(peer)
        await _greet(peer, reads, EHLO_PIPELINING)
        await reads.lines(3)
        await peer.send(b"250 ok\r\n")
        peer.writer.transport.abort()

    stdin = "EHLO me\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\nDATA\ntext\n.\nQUIT\n"
    with HostileServer(script) as server:
        out, err, status = run_piped(server.port, stdin)
        server.wait_finished()
    assert status == 1
    assert "Traceback" not in err
    # What was sent before the loss is shown, once, and why no reply came, once.
    lines = out.splitlines()
    start = lines.index("> MAIL FROM:<a@x.test>")
    assert lines[start:] == [
        "> MAIL FROM:<a@x.test>",
        "250 ok",
        "> RCPT TO:<b@x.test>",
        "> DATA",
        "connection closed by the server",
        "message text not sent (lines 5-6): DATA was not accepted",
    ]
    assert "connection closed" not in err


def test_replies_owed_are_waited_for_at_the_end_of_input() -> None:
    """Input that ends after RCPT: the replies still come, are shown and counted."""

    async def script(peer: Peer) -> None:
        reads = Reads(peer)
        await _greet(peer, reads, EHLO_PIPELINING)
        await reads.lines(2)
        await peer.send(b"250 ok\r\n450 4.2.0 try later\r\n")
        await peer.reader.read(1)  # until the client goes

    stdin = "EHLO me\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\n"
    with HostileServer(script) as server:
        out, _err, status = run_piped(server.port, stdin)
        server.wait_finished()
    assert not server.errors, server.errors
    assert "450 4.2.0 try later" in out
    assert status == ReplyStatus.RCPT
