"""The prompt and what arrives around it: a line the server causes while the prompt
waits goes above the prompt, on a line of its own; a paste is sent as pasted, each
reply under the line it answers. Judged on the screen a terminal would show."""

from __future__ import annotations

import threading
from collections.abc import Callable

from hostile_server import HostileServer
from pty_shell import ShellPty, converse
from test_ux_screen import Screen, ehlo_server

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
