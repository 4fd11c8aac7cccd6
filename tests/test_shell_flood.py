"""A server that floods the shell with replies cannot take the keyboard away.

Each test's server sends complete, valid replies as fast as it can, unasked (RFC 5321
does not forbid a server from talking; a hostile one may never stop). The user's
`disconnect`, Ctrl-D and end of piped input must still act within a fraction of a
second, and the screen says how much it did not show.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from hostile_server import HostileServer, Peer
from pty_shell import ShellPty

CHUNK = b"250 flood of replies nobody asked for\r\n" * 2000


async def flood(peer: Peer) -> None:
    await peer.send(b"220 flood ESMTP\r\n")
    while True:
        await peer.send(CHUNK)


def test_disconnect_is_handled_during_a_flood(start_shell: Callable[..., ShellPty]) -> None:
    with HostileServer(flood) as server:
        sh = start_shell("--connect", f"127.0.0.1:{server.port}")
        sh.expect(r"250 flood of replies")
        started = time.monotonic()
        sh.type("disconnect")
        sh.expect(r"connection closed", timeout=10)
        sh.expect(r"smtpshell>", timeout=10)
        assert time.monotonic() - started < 3
        sh.close()


def test_end_of_piped_input_ends_the_session_during_a_flood(data_home: Path) -> None:
    with HostileServer(flood) as server:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{server.port}"],
            input=b"NOOP\n",
            capture_output=True,
            timeout=60,
            env={**os.environ, "XDG_DATA_HOME": str(data_home), "NO_COLOR": "1"},
        )
        elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    assert b"Traceback" not in result.stderr
