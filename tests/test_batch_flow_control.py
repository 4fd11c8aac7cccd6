"""Flow control in piped sessions: a message read faster than a slow server takes
it waits in the pipe, not in the client's memory, whether it is streamed in blocks
or sent line by line (-v). The bound is structural: what the client has written
and not yet handed to the operating system, sampled at every turn of its event
loop, never exceeds the transport's high-water mark plus one block."""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from hostile_server import HostileServer, Peer

from smtpshell.core.options import ConnectOptions
from smtpshell.shell.app import Shell, ShellConfig

if TYPE_CHECKING:
    from rich.console import Console

LINE = b"x" * 900 + b"\n"
MESSAGE_LINES = 10_000  # 9 MB: more than the socket buffers between client and server
BOUND = 256 * 1024  # 64 KiB high-water mark, a 64 KiB block, and room to spare


class PlainConsole:
    """Writes text without rendering it: the client reads and sends as fast as it
    can, so only flow control can hold it back."""

    def __init__(self) -> None:
        self.file = io.StringIO()

    def print(self, text: object = "", style: str | None = None, **options: object) -> None:
        self.file.write(f"{text}\n")


async def slow_reader(peer: Peer) -> None:
    """Takes the message a few KiB at a time with a pause between reads, through a
    receive buffer of fixed size: a slow link."""
    sock = peer.writer.get_extra_info("socket")
    # Fixed, so the kernel does not grow it to hold the whole message; still over
    # loopback's 64 KiB segment, so that the window reopens as it is read.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 * 1024)
    await peer.send(b"220 slow ESMTP\r\n")
    while True:
        verb = (await peer.command()).split(" ", 1)[0].upper()
        if verb == "DATA":
            await peer.send(b"354 go on\r\n")
            tail = b""
            while not tail.endswith(b"\r\n.\r\n"):
                chunk = await peer.reader.read(8192)
                if not chunk:
                    raise ConnectionError("the client closed the connection")
                tail = (tail + chunk)[-5:]
                await asyncio.sleep(0.001)  # a throttle, not a wait for something
            await peer.send(b"250 queued\r\n")
        elif verb == "QUIT":
            await peer.send(b"221 bye\r\n")
            return
        else:
            await peer.send(b"250 ok\r\n")


async def _peak_unsent(shell: Shell, port: int, stdin: io.TextIOWrapper) -> int:
    peak = 0
    finished = False

    async def sample() -> None:
        nonlocal peak
        while not finished:
            peak = max(peak, shell.session.unsent_bytes)
            await asyncio.sleep(0)  # one sample per turn of the loop

    sampler = asyncio.create_task(sample())
    try:
        status = await shell.run(ConnectOptions("127.0.0.1", port, timeout=30), stdin)
    finally:
        finished = True
        await sampler
    assert status == 0
    return peak


@pytest.mark.parametrize("verbose", [False, True], ids=["streamed", "line-by-line"])
def test_a_slow_server_keeps_the_client_buffer_bounded(tmp_path: Path, verbose: bool) -> None:
    script = tmp_path / "script.txt"
    with script.open("wb") as out:
        out.write(b"EHLO me\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\nDATA\n")
        out.write(LINE * MESSAGE_LINES)
        out.write(b".\nQUIT\n")
    screen = PlainConsole()
    shell = Shell(
        cast("Console", screen),
        ShellConfig(history_file=None, verbose=verbose),
        interactive=False,
        err_console=cast("Console", PlainConsole()),
    )
    with HostileServer(slow_reader) as server, script.open(encoding="utf-8") as stdin:
        peak = asyncio.run(_peak_unsent(shell, server.port, stdin))
        server.wait_finished()
    assert not server.errors, server.errors
    assert "250 queued" in screen.file.getvalue()
    assert peak <= BOUND, f"{peak:,} bytes written and not sent"
