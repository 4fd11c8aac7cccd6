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
