"""--jobs N: N conversations at a time, really at the same time, never more."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from cli_runner import run_cli
from scripted_server import ScriptedServer, read_command

# Long enough for a second loopback connection to arrive; only a replay that never
# opens one waits it out.
OVERLAP_DEADLINE_SECONDS = 10.0


class CountingServer:
    """Counts conversations in progress: from the connection to the QUIT.

    Each greeting waits until a second conversation is open (or a deadline), so a
    replay that runs two at once is seen to, whatever the timing.
    """

    def __init__(self) -> None:
        self.open = 0
        self.most = 0
        self.conversations = 0
        self._two_open: asyncio.Event | None = None

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._two_open is None:
            self._two_open = asyncio.Event()
        self.open += 1
        self.conversations += 1
        self.most = max(self.most, self.open)
        if self.open >= 2:
            self._two_open.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._two_open.wait(), OVERLAP_DEADLINE_SECONDS)
        writer.write(b"220 counting\r\n")
        await writer.drain()
        while True:
            command = await read_command(reader)
            if command.upper() == "QUIT":
                # Counted before the 221: the replay starts its next conversation
                # only after reading it.
                self.open -= 1
                writer.write(b"221 bye\r\n")
                await writer.drain()
                return
            writer.write(b"250 ok\r\n")
            await writer.drain()


def test_jobs_runs_that_many_conversations_at_once_and_no_more(tmp_path: Path) -> None:
    for number in range(6):
        transcript = tmp_path / f"t{number}.smtp"
        transcript.write_text(f"220\n> NOOP {number}\n250\n> QUIT\n221\n", encoding="utf-8")
    counting = CountingServer()
    with ScriptedServer(counting) as server:
        out, err, status = run_cli(
            "replay", str(tmp_path), "--connect", f"127.0.0.1:{server.port}", "--jobs", "2"
        )
    assert status == 0, out + err
    assert "replay: 6 passed, 0 failed" in out
    assert counting.conversations == 6
    assert counting.most == 2
