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
