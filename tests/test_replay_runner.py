"""The replay runner: every way a replay ends closes its connection."""

from __future__ import annotations

import asyncio
import threading

import pytest
from scripted_server import ScriptedServer, read_command

from smtpshell.core.events import Closed, Event
from smtpshell.core.options import ConnectOptions
from smtpshell.replay.runner import ReplayResult, replay
from smtpshell.transcript import parse_transcript

# Long enough for any loopback close to arrive; only a leaked connection waits it out.
CLOSE_DEADLINE_SECONDS = 5.0


class AgreeableServer:
    """Greets with 220 and answers 250 to every command; notes when the client hangs up."""

    def __init__(self) -> None:
        self.hung_up = threading.Event()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"220 mx.example ESMTP\r\n")
            await writer.drain()
            while True:
                await read_command(reader)
                writer.write(b"250 ok\r\n")
                await writer.drain()
        finally:
            self.hung_up.set()


@pytest.mark.parametrize(
    ("text", "failing_line"),
    [
        pytest.param("554 5.3.2 not now\n> QUIT\n221 bye\n", 1, id="greeting-differs"),
        pytest.param("220 mx.example ESMTP\n> NOOP\n500 no\n", 3, id="reply-differs"),
        pytest.param("220 mx.example ESMTP\n> NOOP\n250 ok\n", None, id="passes"),
    ],
)
def test_the_connection_is_closed_when_replay_returns(text: str, failing_line: int | None) -> None:
    server = AgreeableServer()
    events: list[Event] = []

    async def replay_then_wait_for_hang_up(port: int) -> tuple[ReplayResult, bool]:
        options = ConnectOptions("127.0.0.1", port, timeout=5)
        result = await replay(parse_transcript(text, "t.smtp"), options, events.append)
        # Still inside the event loop that owns the connection: a leaked one stays open.
        hung_up = await asyncio.to_thread(server.hung_up.wait, CLOSE_DEADLINE_SECONDS)
        return result, hung_up

    with ScriptedServer(server) as scripted:
        result, hung_up = asyncio.run(replay_then_wait_for_hang_up(scripted.port))
    assert (result.mismatch.line if result.mismatch else None) == failing_line
    assert hung_up, "the server never saw the replay hang up"
    assert isinstance(events[-1], Closed)
