"""A failing consumer of a session's events never kills the connection, and the
state after an abandoned wait is the one a user expects."""

from __future__ import annotations

import asyncio
import functools

from hostile_server import HostileServer, well_behaved

from smtpshell.core.events import Event, Notice, Received
from smtpshell.core.session import Session
from smtpshell.protocol.endpoint import Endpoint

# A slow queue: the reply to the end of data takes a while.
echo_250 = functools.partial(well_behaved, name="ok", end_of_data_delay=0.5)


def test_a_failing_listener_is_reported_once_and_the_connection_goes_on() -> None:
    """A listener runs inside the protocol's data_received: an exception there
    used to kill the connection with an asyncio 'Fatal error' and leave the command
    waiting for its time-out."""
    seen: list[Event] = []

    def broken(event: Event) -> None:
        if isinstance(event, Received):
            raise ValueError("cannot write that")

    async def scenario(port: int) -> None:
        async with Session(timeout=5) as session:
            session.subscribe(broken)
            session.subscribe(seen.append)
            await session.connect(Endpoint("127.0.0.1", port))
            assert (await session.send("NOOP")).code == 250
            assert (await session.send("NOOP")).code == 250
            assert session.connected

    with HostileServer(echo_250) as server:
        asyncio.run(scenario(server.port))
    errors = [e for e in seen if isinstance(e, Notice) and e.level == "error"]
    assert len(errors) == 1, errors
    assert "broken" in errors[0].text and "cannot write that" in errors[0].text
    assert sum(isinstance(e, Received) for e in seen) == 3  # greeting and two NOOPs


def test_abandoning_the_wait_for_the_end_of_data_leaves_data_mode() -> None:
    """Ctrl-C while the reply to the final '.' is awaited: the '.' is sent, so the
    next line is a command (RFC 5321 4.1.1.4), not more message text."""

    async def scenario(port: int) -> None:
        async with Session(timeout=5) as session:
            await session.connect(Endpoint("127.0.0.1", port))
            await session.send("MAIL FROM:<a@example.test>")
            await session.send("RCPT TO:<b@example.test>")
            assert (await session.send("DATA")).code == 354
            session.send_data_line("body")
            waiting = asyncio.ensure_future(session.end_data())
            await asyncio.sleep(0)
            waiting.cancel()
            assert not session.in_data

    with HostileServer(echo_250) as server:
        asyncio.run(scenario(server.port))
