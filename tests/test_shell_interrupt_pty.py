"""Ctrl-C in the shell stops what the user asked to stop, and nothing more goes out."""

from __future__ import annotations

import threading
from collections.abc import Callable

from hostile_server import HostileServer, Peer
from pty_shell import ShellPty, converse


def _stall_after_ehlo(noop_seen: threading.Event) -> Callable[[Peer], object]:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 slow ESMTP\r\n")
        await peer.command()  # EHLO
        await peer.send(b"250 slow\r\n")
        await peer.command()  # NOOP: never answered
        noop_seen.set()
        await peer.drain_client()

    return script


def test_ctrl_c_during_a_pasted_block_abandons_the_rest(
    start_shell: Callable[..., ShellPty],
) -> None:
    """A pasted block is sent line by line, each after the previous reply; Ctrl-C
    while one waits means "stop": the lines after it are not sent (RFC 5321 has no
    way to take back a command, so the only safe choice is not to send it)."""
    noop_seen = threading.Event()
    with HostileServer(_stall_after_ehlo(noop_seen)) as server:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        sh.expect(r"plain>")
        converse(sh, [("EHLO me", "250 slow")])
        sh.keys("\x1b[200~NOOP\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\x1b[201~")
        sh.keys("\r")
        assert noop_seen.wait(10)
        sh.keys("\x03")
        sh.expect(r"interrupted")
        sh.expect(r"the other 2 pasted line\(s\) were not sent")
        sh.close()
    assert b"NOOP" in server.clear
    assert b"MAIL FROM" not in server.clear
    assert b"RCPT TO" not in server.clear


def test_connect_uses_the_command_line_timeout(start_shell: Callable[..., ShellPty]) -> None:
    """`smtpshell --timeout 1` bounds every connection of the shell, the ones made
    with `connect` too, not only the first."""

    async def silent(peer: Peer) -> None:
        await peer.drain_client()  # never greets

    with HostileServer(silent) as server:
        sh = start_shell("--timeout", "1")
        sh.expect(r"smtpshell>")
        sh.type(f"connect 127.0.0.1:{server.port}")
        sh.expect(r"within 1 s", timeout=10)
        sh.close()


