"""Bytes that are not UTF-8 on piped standard input: a Latin-1 message body is sent
as it is (8-bit bodies are ordinary mail, RFC 6152), and a command line holding
them is refused with its line number, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from server_fixtures import stored_messages

from smtpshell.server import BackgroundServer


def _run(
    server: BackgroundServer, data_home: Path, stdin: bytes
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{server.port}"],
        input=stdin,
        capture_output=True,
        timeout=30,
        env={**os.environ, "XDG_DATA_HOME": str(data_home), "NO_COLOR": "1",
             "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""},
    )  # fmt: skip


def test_latin1_message_body_is_sent_byte_for_byte(
    server: BackgroundServer, data_home: Path
) -> None:
    body = b"Subject: caf\xe9\r\n\r\nna\xefve \xa9 2026\r\n"
    stdin = (
        b"EHLO me\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n"
        + body.replace(b"\r\n", b"\n")
        + b".\nQUIT\n"
    )
    result = _run(server, data_home, stdin)
    assert b"Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert stored_messages(server) == [body]


def test_a_command_with_bytes_that_are_not_utf8_is_refused_with_its_line(
    server: BackgroundServer, data_home: Path
) -> None:
    result = _run(server, data_home, b"EHLO me\nVRFY caf\xe9\nNOOP\nQUIT\n")
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    assert result.returncode == 1
    assert "line 2" in err and "UTF-8" in err, err
    assert b"250" in result.stdout  # NOOP after it still went out
