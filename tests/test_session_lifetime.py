"""A session owns its connection: ``async with``, a close that waits until the
connection is gone, the STARTTLS handshake task, and cancellation from outside.

Where a test blocks the event loop (``threading.Event.wait`` in a coroutine), that
is the point: from then on the client does nothing more, so only a connection
already closed when ``close()`` returned can end the server's read.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from scripted_server import (
    ScriptedServer,
    answer_first_command,
    read_command,
    self_signed_context,
)
from server_fixtures import local

from smtpshell.core.events import Event, Received, Sent
from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.errors import ConnectionClosed, NegativeReply, SmtpTimeout, TlsError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.server import BackgroundServer

# How long a test waits for the server's thread to see the connection end.
SERVER_DEADLINE = 5.0


def only_this_task() -> set[asyncio.Task[Any]]:
    current = asyncio.current_task()
    assert current is not None
    return {current}


def test_async_with_closes_the_session_however_the_block_ends(server: BackgroundServer) -> None:
    async def scenario() -> None:
        async with Session(timeout=5) as session:
            await session.connect(local(server.port))
            assert session.connected
        assert not session.connected

        with pytest.raises(NegativeReply):
            async with Session(timeout=5) as failing:
                await failing.connect(local(server.port))
                await failing.execute("RCPT TO:<x@example.test>")  # 503: no MAIL yet
        assert not failing.connected

    asyncio.run(scenario())


def test_cancelling_a_task_inside_async_with_closes_the_session_and_propagates() -> None:
    server_saw_eof = threading.Event()

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hi\r\n")
        await writer.drain()
        await read_command(reader)
        await reader.read()  # returns at EOF
        server_saw_eof.set()

    async def scenario(port: int) -> None:
        sent = asyncio.Event()
        session = Session(lambda event: sent.set() if isinstance(event, Sent) else None, timeout=5)

        async def work() -> None:
            async with session:
                await session.connect(local(port))
                await session.send("NOOP")

        task = asyncio.create_task(work())
        async with asyncio.timeout(SERVER_DEADLINE):
            await sent.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not session.connected
        assert asyncio.all_tasks() == only_this_task()
        assert server_saw_eof.wait(SERVER_DEADLINE)

    with ScriptedServer(never_answers) as scripted:
        asyncio.run(scenario(scripted.port))


def test_cancelling_a_send_as_its_reply_arrives_still_raises_cancelled_error() -> None:
    async def scenario(port: int) -> None:
        session = Session(timeout=5)
        await session.connect(local(port))
        task = asyncio.create_task(session.send("NOOP"))

        def cancel_with_the_reply(event: Event) -> None:
            # Ctrl-C landing together with the reply: the cancellation is scheduled
            # before the reply resolves the send.
            if isinstance(event, Received):
                asyncio.get_running_loop().call_soon(task.cancel)

        session.subscribe(cancel_with_the_reply)
        with pytest.raises(asyncio.CancelledError):
            await task
        await session.close()

    with ScriptedServer(answer_first_command(b"250 ok\r\n")) as scripted:
        asyncio.run(scenario(scripted.port))


@pytest.mark.parametrize("mode", [TlsMode.PLAIN, TlsMode.IMPLICIT])
def test_close_aborts_what_cannot_end_and_returns_once_the_connection_is_gone(
    tmp_path: Path, mode: TlsMode
) -> None:
    may_read = threading.Event()
    server_saw_the_end = threading.Event()

    async def stops_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hi\r\n")
        await writer.drain()
        # Reading nothing fills the buffers: the client's close can neither flush
        # them nor (with TLS) get an answer to its close_notify.
        await asyncio.to_thread(may_read.wait, SERVER_DEADLINE)
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, ssl.SSLError):
            pass
        server_saw_the_end.set()

    async def scenario(port: int) -> None:
        session = Session(timeout=0.5)
        await session.connect(local(port), mode, TlsSettings(insecure=True))
        for _ in range(16 * 1024):  # 16 MiB: more than the socket buffers hold
            session.send_data_line("x" * 998)
        await session.close()
        may_read.set()
        assert server_saw_the_end.wait(SERVER_DEADLINE)

    context = self_signed_context(tmp_path) if mode is TlsMode.IMPLICIT else None
    with ScriptedServer(stops_reading, context) as scripted:
        asyncio.run(scenario(scripted.port))


def stalled_handshake(hello_seen: threading.Event) -> Any:
    """Says 220 to STARTTLS, reads the ClientHello and never answers it."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hi\r\n")
        await writer.drain()
        assert await read_command(reader) == "STARTTLS"
        writer.write(b"220 2.0.0 go ahead\r\n")
        await writer.drain()
        await reader.read(1)
        hello_seen.set()
        await reader.read()

    return handler


@pytest.mark.parametrize("ending", ["close", "reconnect"])
def test_ending_a_session_in_a_stalled_handshake_leaves_no_task_behind(ending: str) -> None:
    hello_seen = threading.Event()

    async def scenario(port: int) -> None:
        session = Session(timeout=5)
        await session.connect(local(port))
        starttls = session.send_nowait("STARTTLS")
        assert await asyncio.to_thread(hello_seen.wait, SERVER_DEADLINE)
        if ending == "close":
            await session.close()
        else:
            await session.connect(local(port))
        assert asyncio.all_tasks() == only_this_task()
        with pytest.raises(ConnectionClosed, match="during the TLS handshake"):
            await session.wait_reply(starttls, "STARTTLS")
        assert session.connected is (ending == "reconnect")
        await session.close()

    with ScriptedServer(stalled_handshake(hello_seen)) as scripted:
        asyncio.run(scenario(scripted.port))
        assert not scripted.errors


def test_a_handshake_outlasting_the_time_out_ends_without_a_stray_error() -> None:
    hello_seen = threading.Event()
    loop_errors: list[dict[str, Any]] = []

    async def scenario(port: int) -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        session = Session(timeout=0.5)
        await session.connect(local(port))
        with pytest.raises(SmtpTimeout, match=r"no complete reply to STARTTLS within 0\.5 s"):
            await session.send("STARTTLS")
        await session.close()
        assert asyncio.all_tasks() == only_this_task()

    with ScriptedServer(stalled_handshake(hello_seen)) as scripted:
        asyncio.run(scenario(scripted.port))
    assert hello_seen.is_set()
    assert loop_errors == []


def test_a_failed_connect_leaves_no_connection_behind() -> None:
    server_saw_the_end = threading.Event()

    async def no_starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 plain only\r\n")
        await read_command(reader)
        writer.write(b"250-plain.test\r\n250 PIPELINING\r\n")
        await writer.drain()
        try:
            await reader.read()
        finally:
            server_saw_the_end.set()

    async def scenario(port: int) -> None:
        session = Session(timeout=5)
        with pytest.raises(TlsError, match="does not offer STARTTLS"):
            await session.connect(local(port), TlsMode.STARTTLS)
        assert server_saw_the_end.wait(SERVER_DEADLINE)

    with ScriptedServer(no_starttls) as scripted:
        asyncio.run(scenario(scripted.port))
