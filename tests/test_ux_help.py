"""Every local command answers --help; an interrupted wait leaves the conversation in
step, and says which reply is late."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer
from pty_shell import ShellPty, converse

from smtpshell.protocol.auth import b64encode_text
from smtpshell.shell.commands import build_registry

Start = Callable[..., ShellPty]

NAMES = [name for command in build_registry() for name in command.names]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_local_command_answers_help(
    name: str, flag: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`CMD --help` shows its usage and purpose and does nothing else: `b64 --help`
    encodes nothing, `record --help` creates no file, `exit --help` stays."""
    monkeypatch.chdir(tmp_path)
    command = next(c for c in build_registry() if name in c.names)
    out, err, status = run_cli(stdin=f"{name} {flag}\n? {name}\n")
    assert status == 0, err
    assert err == ""
    usage, summary = command.help_row
    shown = out.split("\n")
    # Shown twice: once for --help, once for `? NAME` (the same entry).
    assert shown.count(usage) == 2 and shown.count(summary) == 2, out
    assert b64encode_text(flag) not in out
    assert list(tmp_path.iterdir()) == []  # no file called --help


def test_help_in_a_terminal(start_shell: Start) -> None:
    sh = start_shell()
    converse(
        sh,
        [
            ("connect --help", r"connect HOST\[:PORT\].*\nConnect to a server"),
            ("login -h", r"login \[USER\].*\nLog in"),
            ("mx --help", r"mx DOMAIN.*\nLook up a domain's mail exchangers"),
            ("b64 -- --help", re.escape(b64encode_text("--help"))),  # how to encode it
        ],
    )
    assert sh.close() == 0


# ----------------------------------------------------------- interrupted waits


def test_after_ctrl_c_the_late_reply_is_shown_as_late_and_the_next_is_in_step(
    start_shell: Start,
) -> None:
    """Ctrl-C abandons the wait, not the reply: the session still owes it to NOOP.
    When it comes it is marked as late, and RSET waits for its own reply."""
    release = threading.Event()

    async def script(peer: Peer) -> None:
        await peer.send(b"220 slow ESMTP\r\n")
        while True:
            command = await peer.command()
            if command == "NOOP":
                await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
                await peer.send(b"250 2.0.0 answer to NOOP\r\n")
            else:
                await peer.send(f"250 2.0.0 answer to {command}\r\n".encode())

    with HostileServer(script) as server:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        converse(sh, [("EHLO me", r"answer to EHLO me")])
        sh.type("NOOP")
        deadline_wait(lambda: b"NOOP" in server.clear)
        sh.keys("\x03")
        sh.expect(r"interrupted: the reply to NOOP will be shown when it comes")
        sh.expect(r"plain>")
        sh.type("RSET")
        deadline_wait(lambda: b"RSET" in server.clear)
        release.set()
        sh.expect(r"\(late\) the reply to the interrupted NOOP:\n250 2\.0\.0 answer to NOOP\n"
                  r"250 2\.0\.0 answer to RSET\n")  # fmt: skip
        converse(sh, [("VRFY x", r"\n250 2\.0\.0 answer to VRFY x\n")])
        assert sh.close() == 0


def deadline_wait(condition: Callable[[], bool], timeout: float = 10) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
