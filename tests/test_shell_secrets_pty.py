"""A backslash sends a line as typed, and leaves its secret just as secret."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import PASSWORD, USER, history_text
from pty_shell import ShellPty, converse

from smtpshell.protocol.auth import plain_response
from smtpshell.server import BackgroundServer


def test_escaped_auth_line_is_masked_and_kept_out_of_history(
    start_shell: Callable[..., ShellPty], server: BackgroundServer, data_home: Path
) -> None:
    response = plain_response(USER, PASSWORD)
    sh = start_shell(
        "--connect", f"127.0.0.1:{server.port}", "--starttls", "--cafile", str(server.ca_file)
    )
    sh.expect(r"tls>")
    converse(
        sh,
        [("EHLO me", "250 HELP"), (f"\\AUTH PLAIN {response}", "235"), ("NOOP after", "250")],
    )
    assert sh.close() == 0
    assert response not in sh.raw
    assert "\\AUTH PLAIN ****" in sh.screen
    history = history_text(data_home)
    assert "NOOP after" in history  # the history is written: the line was left out
    assert response not in history


def test_a_421_while_a_secret_is_typed_keeps_it_masked_unsent_and_out_of_history(
    start_shell: Callable[..., ShellPty], data_home: Path
) -> None:
    """RFC 5321 3.8: a server may send 421 and close at any time, also while the user
    types the answer to a 334 (RFC 4954 4). The masking must not switch off mid-word,
    and the accepted line is neither sent nor stored."""
    import threading

    from hostile_server import HostileServer, Peer

    typed = threading.Event()

    async def script(peer: Peer) -> None:
        import asyncio

        await peer.send(b"220 hostile ESMTP\r\n")
        await peer.command()  # EHLO
        await peer.send(b"250-hostile\r\n250 AUTH LOGIN\r\n")
        await peer.command()  # AUTH LOGIN
        await peer.send(b"334 VXNlcm5hbWU6\r\n")
        await asyncio.get_running_loop().run_in_executor(None, typed.wait, 10)
        await peer.send(b"421 4.4.2 idle too long, closing\r\n")
        peer.half_close()
        await peer.drain_client()

    with HostileServer(script) as server:
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        sh.expect(r"plain>")
        converse(sh, [("EHLO me", "250 AUTH LOGIN"), ("AUTH LOGIN", r"334 VXNlcm5hbWU6")])
        sh.expect(r"auth>")
        sh.keys("hunter")
        sh.expect(r"\*{6}")
        typed.set()
        sh.expect(r"421 4\.4\.2")
        sh.keys("2")
        sh.expect(r"\*{7}")
        sh.keys("\r")
        sh.expect(r"not sent")
        assert sh.close() == 0
        assert b"hunter" not in server.clear
    assert "hunter" not in sh.screen
    assert "hunter" not in history_text(data_home)


def test_message_text_that_looks_like_a_local_command_is_not_masked(
    start_shell: Callable[..., ShellPty], server: BackgroundServer
) -> None:
    """In DATA every line is message text (RFC 5321 4.1.1.4): `b64 x` there is a
    line of the message, shown as typed."""
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    sh.expect(r"plain>")
    converse(
        sh,
        [
            ("EHLO me", "250 HELP"),
            ("MAIL FROM:<a@example.test>", "250"),
            ("RCPT TO:<b@example.test>", "250"),
            ("DATA", "354"),
        ],
    )
    sh.keys("b64 visible words")
    sh.expect(r"b64 visible words")
    sh.keys("\r")
    converse(sh, [(".", "250")])
    assert sh.close() == 0
