"""`smtpshell send` on a terminal: a progress bar for a large message, the text typed
with Ctrl-D at the end, the password asked with echo off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import PASSWORD, USER
from pty_shell import ShellPty
from server_fixtures import stored_messages

from smtpshell.server import BackgroundServer

Start = Callable[..., ShellPty]


def test_a_large_attachment_shows_progress_on_a_terminal(
    start_shell: Start, server: BackgroundServer, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 8192)  # 2 MiB
    sh = start_shell(
        "send", "--server", f"127.0.0.1:{server.port}", "--from", "me@example.com",
        "--to", "a@example.com", "--body", "attached", "--attach", str(big),
    )  # fmt: skip
    sh.expect("sending")
    sh.expect("sent to a@example.com")
    assert sh.wait_exit() == 0
    assert len(stored_messages(server)) == 1


def test_the_text_is_typed_and_the_password_asked_without_echo(
    start_shell: Start, server: BackgroundServer
) -> None:
    sh = start_shell(
        "send", "--server", f"127.0.0.1:{server.tls_port}", "--tls",
        "--cafile", str(server.ca_file), "--user", USER, "--from", "me@example.com",
        "--to", "a@example.com", "-s", "typed",
    )  # fmt: skip
    sh.expect("Ctrl-D")
    sh.type("typed by hand")
    sh.keys("\x04")
    sh.expect("Password for")
    sh.type(PASSWORD)
    sh.expect("sent to a@example.com")
    assert sh.wait_exit() == 0
    assert PASSWORD not in sh.screen
    assert b"typed by hand" in stored_messages(server)[0]


def test_a_raw_message_typed_ends_with_one_ctrl_d(
    start_shell: Start, server: BackgroundServer
) -> None:
    sh = start_shell(
        "send", "--server", f"127.0.0.1:{server.port}", "--raw", "--to", "a@example.com"
    )
    sh.expect("headers first")
    for line in ("From: me@example.com", "Subject: typed raw", "", "body"):
        sh.type(line)
    sh.keys("\x04")
    sh.expect("sent to a@example.com")
    assert sh.wait_exit() == 0
    assert stored_messages(server)[0].endswith(b"Subject: typed raw\r\n\r\nbody\r\n")


def test_an_empty_password_sends_nothing(start_shell: Start, server: BackgroundServer) -> None:
    sh = start_shell(
        "send", "--server", f"127.0.0.1:{server.tls_port}", "--tls",
        "--cafile", str(server.ca_file), "--user", USER, "--from", "me@example.com",
        "--to", "a@example.com", "--body", "x",
    )  # fmt: skip
    sh.expect("Password for")
    sh.type("")
    sh.expect("no password typed")
    assert sh.wait_exit() == 1
    assert stored_messages(server) == []
