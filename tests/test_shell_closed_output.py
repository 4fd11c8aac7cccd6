"""A closed standard output (`smtpshell ... | head -c 1`) ends the program at once,
with no traceback and a status a script can read."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from smtpshell.server import BackgroundServer


def test_closed_stdout_ends_the_piped_session_quietly(
    server: BackgroundServer, data_home: Path
) -> None:
    """POSIX: writing to a pipe with no reader fails with EPIPE. Like `cat`, the
    program stops (status 1, or 141 = 128 + SIGPIPE), says nothing on stderr, and
    leaves no connection waiting for --timeout."""
    commands = "EHLO me\n" + "NOOP\n" * 200 + "QUIT\n"
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{server.port}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "XDG_DATA_HOME": str(data_home), "NO_COLOR": "1"},
    )
    assert child.stdout is not None and child.stdin is not None
    first = child.stdout.read(1)
    child.stdout.close()  # the reader goes away, as `head -c 1` does
    child.stdin.write(commands.encode())
    child.stdin.close()
    status = child.wait(timeout=20)
    assert child.stderr is not None
    err = child.stderr.read().decode()
    child.stderr.close()
    assert first
    assert status in (1, 141), (status, err)
    assert err == "", err
    assert time.monotonic() - started < 10
