"""The prompt and what arrives around it: a line the server causes while the prompt
waits goes above the prompt, on a line of its own; a paste is sent as pasted, each
reply under the line it answers. Judged on the screen a terminal would show."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from hostile_server import HostileServer, Peer
from pty_shell import ShellPty, converse
from server_fixtures import stored_messages
from test_ux_screen import Screen, ehlo_server

from smtpshell.server import BackgroundServer

Start = Callable[..., ShellPty]


# -- lines of their own ----------------------------------------------------------


def test_closed_by_the_server_is_on_a_line_of_its_own(start_shell: Start) -> None:
    """The server closes after the next prompt is drawn: the message goes above it."""
    release = threading.Event()
    with HostileServer(ehlo_server(after_quit=release)) as server:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        converse(sh, [("QUIT", r"221 2\.0\.0 Bye\n.*plain>")])
        release.set()
        sh.expect(r"connection closed by the server")
        sh.expect(r"smtpshell>")
        assert sh.close() == 0
    lines = Screen(sh.raw).lines
    assert "connection closed by the server" in lines, lines[-6:]
    closed = lines.index("connection closed by the server")
    assert lines[closed + 1].startswith("smtpshell>"), lines[-6:]


# -- pastes ----------------------------------------------------------------------


def test_a_pasted_message_is_sent_as_pasted(start_shell: Start, server: BackgroundServer) -> None:
    """A paste that ends with its line ending needs no Enter, and adds no line."""
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    sh.expect("plain>")
    transaction = "EHLO me\r\nMAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA"
    sh.keys(f"\x1b[200~{transaction}\r\nSubject: pasted\r\n\r\nbody\r\n.\r\n\x1b[201~")
    sh.expect(r"250 OK: stored")
    sh.expect(r"plain>")
    assert sh.close() == 0
    assert stored_messages(server) == [b"Subject: pasted\r\n\r\nbody\r\n"]


def test_each_pasted_command_has_its_reply_under_it(start_shell: Start) -> None:
    with HostileServer(ehlo_server()) as server:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        sh.expect("plain>")
        sh.keys("\x1b[200~NOOP one\nNOOP two\nNOOP three\n\x1b[201~")
        sh.expect(r"Ok: NOOP THREE")
        sh.expect(r"plain>")
        assert sh.close() == 0
        assert server.clear.count(b"NOOP") == 3
    lines = [line.split("plain> ", 1)[-1] for line in Screen(sh.raw).lines]
    first = lines.index("NOOP one")
    assert lines[first : first + 6] == [
        "NOOP one", "250 2.0.0 Ok: NOOP ONE",
        "NOOP two", "250 2.0.0 Ok: NOOP TWO",
        "NOOP three", "250 2.0.0 Ok: NOOP THREE",
    ], lines[first - 2 :]  # fmt: skip


@pytest.mark.parametrize("ending", ["", "\n"], ids=["last line to edit", "all lines"])
def test_a_pasted_auth_block_shows_no_secret(start_shell: Start, ending: str) -> None:
    """The lines after AUTH are credentials: shown masked as they are sent, and the
    last one, left at the prompt when the paste has no final line ending, too."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 mail.example.test ESMTP\r\n")
        await peer.command()  # AUTH LOGIN
        await peer.send(b"334 VXNlcm5hbWU6\r\n")
        await peer.command()
        await peer.send(b"334 UGFzc3dvcmQ6\r\n")
        await peer.command()
        await peer.send(b"235 2.7.0 Authentication successful\r\n")
        await peer.command()  # QUIT
        await peer.send(b"221 2.0.0 Bye\r\n")

    with HostileServer(script) as server:
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        sh.expect("plain>")
        sh.keys(f"\x1b[200~AUTH LOGIN\nYWxpY2U=\nc2VjcmV0{ending}\x1b[201~")
        if not ending:
            sh.expect(r"334 UGFzc3dvcmQ6")
            sh.keys("\r")
        sh.expect(r"235 2\.7\.0")
        converse(sh, [("QUIT", "221")])
        sh.close()
        server.wait_finished()
    assert b"c2VjcmV0\r\n" in server.clear
    assert "YWxpY2U=" not in sh.raw and "c2VjcmV0" not in sh.raw
