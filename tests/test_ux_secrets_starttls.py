"""`--starttls` leaves a session ready to log in: EHLO again inside TLS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import PASSWORD, history_text
from pty_shell import ShellPty, converse

from smtpshell.server import BackgroundServer

Start = Callable[..., ShellPty]


def test_starttls_on_the_command_line_leaves_a_session_ready_to_log_in(
    start_shell: Start, server: BackgroundServer, data_home: Path
) -> None:
    """RFC 3207 4.2: after TLS the client sends EHLO again; --starttls does it, so
    `login` finds the mechanisms the server offers inside TLS."""
    sh = start_shell("--connect", f"127.0.0.1:{server.port}", "--starttls",
                     "--cafile", str(server.ca_file))  # fmt: skip
    sh.expect(r"certificate verified.*\n> EHLO localhost\n(250-.*\n)*250-AUTH CRAM-MD5 LOGIN PLAIN")
    sh.expect(r"tls>")
    converse(sh, [("login alice", r"Password:"), (PASSWORD, r"authenticated as alice")])
    assert sh.close() == 0
    assert PASSWORD not in sh.raw and PASSWORD not in history_text(data_home)


def test_the_tls_line_asks_for_ehlo_only_when_the_user_must_send_it(
    server: BackgroundServer,
) -> None:
    """RFC 3207 4.2: after TLS a new EHLO is needed. With --starttls smtpshell sends
    it itself, so the line must not tell the user to; typed STARTTLS still does."""
    from cli_runner import run_cli

    cafile = str(server.ca_file)
    out, _err, status = run_cli(
        "--connect", f"127.0.0.1:{server.port}", "--starttls", "--cafile", cafile,
        stdin="QUIT\n",
    )  # fmt: skip
    assert status == 0, out
    assert "TLS established" in out and "send EHLO again" not in out, out
    out, _err, _status = run_cli(
        "--connect", f"127.0.0.1:{server.port}", "--cafile", cafile,
        stdin="EHLO me\nSTARTTLS\nQUIT\n",
    )  # fmt: skip
    assert "certificate verified; send EHLO again" in out, out
