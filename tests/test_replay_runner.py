"""The replay runner: every way a replay ends closes its connection."""

from __future__ import annotations

import asyncio
import threading

import pytest
from scripted_server import Handler, ScriptedServer, read_command

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


def _answer_noop_then(farewell: bytes) -> Handler:
    """Greet, answer one command with 250, send ``farewell`` unasked, then close."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.example ESMTP\r\n")
        await writer.drain()
        await read_command(reader)
        writer.write(b"250 ok\r\n" + farewell)
        await writer.drain()

    return handler


ENDS_WITH_421 = "220\n> NOOP\n250\n421 shutting down\n"


def _replay_against(farewell: bytes, timeout: float) -> ReplayResult:
    with ScriptedServer(_answer_noop_then(farewell)) as scripted:
        options = ConnectOptions("127.0.0.1", scripted.port, timeout=timeout)
        return asyncio.run(replay(parse_transcript(ENDS_WITH_421, "t.smtp"), options))


def test_a_transcript_ending_with_an_unsolicited_421_passes_when_it_comes() -> None:
    result = _replay_against(b"421 4.3.2 shutting down\r\n", timeout=5)
    assert result.mismatch is None


def test_a_421_that_never_comes_fails_once_the_server_has_closed() -> None:
    """A closed connection can bring no reply: the replay says so, rather than wait
    out the time-out and report that nothing came (the time-out here is far longer
    than the test's own)."""
    result = _replay_against(b"", timeout=60)
    assert result.mismatch is not None
    assert result.mismatch.line == 4
    assert result.mismatch.reason == (
        "expected 421 from the server; the connection closed without it"
    )
