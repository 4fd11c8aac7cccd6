"""The embedded server's console log and store, facing a hostile client."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hostile_strings import HOSTILE, leaked
from server_fixtures import RawSmtpClient, start_server


@pytest.mark.parametrize(("name", "text"), HOSTILE.items(), ids=HOSTILE.keys())
def test_log_lines_are_inert(name: str, text: str, tmp_path: Path, cert_dir: Path) -> None:
    """A client chooses the quoted local part of MAIL FROM (RFC 5321 4.1.2); the
    server's console shows it, and an ESC there would act on the admin's terminal."""
    if "\r" in text or "\x00" in text or "\udcff" in text:
        text = "\x1b[2J"  # CR and NUL end the command itself; test ESC on this path
    events: list[str] = []
    local = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    with start_server(tmp_path, events, cert_dir=cert_dir) as server, RawSmtpClient(
        server.port
    ) as client:
        client.command("EHLO me")
        client.command(f"MAIL FROM:<{local}@example.test>".encode("utf-8", "surrogateescape"))
        client.command("RCPT TO:<b@example.test>")
        assert client.command("DATA")[0] == 354
        client.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
        client.reply()
        client.command("QUIT")
    assert any("stored" in line for line in events), events
    assert not leaked("\n".join(events)), events


def test_maildir_root_is_private(tmp_path: Path, cert_dir: Path) -> None:
    """Stored mail is private: the maildir and its parts are 0700, as the CA is."""
    with start_server(tmp_path, cert_dir=cert_dir) as server:
        root = Path(server.store)
    for directory in (root, root / "new", root / "tmp", root / "cur"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


def test_a_closed_console_is_reported_once(tmp_path: Path) -> None:
    """`smtpshell serve | head -c 1`: the server keeps serving (a broken display must
    not refuse mail), and says once, not for every event, that its console is gone."""
    import os
    import signal
    import subprocess
    import sys

    child = subprocess.Popen(
        [sys.executable, "-m", "smtpshell", "serve", "--port", "0", "--tls-port", "0",
         "--store", str(tmp_path / "maildir")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
    )  # fmt: skip
    assert child.stdout is not None and child.stderr is not None
    first = child.stdout.readline()  # "listening on 127.0.0.1:PORT ..."
    port = int(first.split(b":")[1].split()[0])
    while b"Ctrl-C" not in child.stdout.readline():  # the start-up summary's last line
        pass
    child.stdout.close()
    for _ in range(3):  # each stored message is a line for the console
        with RawSmtpClient(port) as client:
            client.command("EHLO me")
            client.command("MAIL FROM:<a@example.test>")
            client.command("RCPT TO:<b@example.test>")
            assert client.command("DATA")[0] == 354
            client.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
            assert client.reply()[0] == 250
            client.command("QUIT")
    child.send_signal(signal.SIGINT)
    child.wait(timeout=20)
    err = child.stderr.read().decode()
    child.stderr.close()
    assert err.count("callback failed") <= 1, err
    assert "Traceback" not in err, err
