"""Bad input to ``smtpshell replay``: one clear line and exit status 2, before anything
is sent; never a traceback, never a hang."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer


async def _accept_all(peer: Peer) -> None:
    await peer.send(b"220 hostile.test ESMTP\r\n")
    while (await peer.command()).upper() != "QUIT":
        await peer.send(b"250 ok\r\n")
    await peer.send(b"221 bye\r\n")


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer(_accept_all) as running:
        yield running


# --- a CR inside a transcript line ---------------------------------------------------


@pytest.mark.parametrize(
    "hidden",
    [
        pytest.param(b"> NOOP\r> MAIL FROM:<x@evil.test>\n", id="client-line"),
        pytest.param(b"> NOOP # checked\r> MAIL FROM:<x@evil.test>\n", id="in-a-comment"),
        pytest.param(b"# a comment\r> MAIL FROM:<x@evil.test>\n", id="comment-line"),
    ],
)
def test_a_bare_cr_in_a_transcript_is_refused(
    hidden: bytes, server: HostileServer, tmp_path: Path
) -> None:
    """A terminal and many viewers treat a bare CR as a line break, so a reviewer sees
    two lines where the format has one (or none: a comment). Reading the file with
    universal newlines turned ``> NOOP\\r> MAIL FROM:<x>`` into two client lines and
    sent MAIL FROM. Only LF and CRLF end lines; a bare CR is ``FILE:LINE:``, exit 2."""
    transcript = tmp_path / "hidden.smtp"
    transcript.write_bytes(
        f"> telnet 127.0.0.1 {server.port}\n220\n".encode() + hidden + b"250\n> QUIT\n221\n"
    )
    out, err, status = run_cli("replay", str(transcript))
    assert status == 2, out + err
    assert err == f"smtpshell replay: {transcript}:3: a carriage return inside a line\n"
    assert server.peers == []


def test_crlf_line_endings_are_still_read(server: HostileServer, tmp_path: Path) -> None:
    """RFC 5321 2.3.8 line endings in a file saved on Windows are just line ends."""
    transcript = tmp_path / "crlf.smtp"
    transcript.write_bytes(
        f"> telnet 127.0.0.1 {server.port}\r\n220\r\n> NOOP\r\n250\r\n> QUIT\r\n221\r\n".encode()
    )
    out, err, status = run_cli("replay", str(transcript))
    assert status == 0, out + err
    server.wait_finished()
    assert server.clear == b"NOOP\r\nQUIT\r\n"


# --- files that are not regular files ------------------------------------------------


def test_a_fifo_given_as_a_transcript_is_refused_without_blocking(
    server: HostileServer, tmp_path: Path
) -> None:
    """Opening a FIFO for reading waits for a writer that may never come: a named pipe
    (or a device) given as a transcript is refused at once, exit 2."""
    fifo = tmp_path / "pipe.smtp"
    os.mkfifo(fifo)
    outcome: list[tuple[str, str, int]] = []
    worker = threading.Thread(target=lambda: outcome.append(run_cli("replay", str(fifo))))
    worker.daemon = True
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the reader so the thread can end, then fail
        with open(fifo, "wb"):
            pass
        worker.join(5)
        pytest.fail("replay blocked on a FIFO")
    _out, err, status = outcome[0]
    assert status == 2
    assert err == f"smtpshell replay: {fifo}: not a regular file\n"
    assert server.peers == []


def test_a_device_given_as_a_transcript_is_refused(tmp_path: Path) -> None:
    """/dev/zero never ends: reading it whole would exhaust memory."""
    _out, err, status = run_cli("replay", "/dev/zero", "--connect", "127.0.0.1:9")
    assert status == 2
    assert err == "smtpshell replay: /dev/zero: not a regular file\n"


# --- --junit paths that cannot be written ---------------------------------------------


def _junit_targets(tmp_path: Path) -> dict[str, tuple[str, str]]:
    regular = tmp_path / "regular-file"
    regular.write_text("x")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    return {
        "directory": (str(folder), "Is a directory"),
        "missing-folder": (str(tmp_path / "no" / "such" / "report.xml"), "No such file"),
        "under-a-file": (str(regular / "report.xml"), "Not a directory"),
        "full-device": ("/dev/full", "No space left on device"),
    }


@pytest.mark.parametrize("target", ["directory", "missing-folder", "under-a-file", "full-device"])
def test_an_unwritable_junit_path_is_refused_before_anything_is_sent(
    target: str, server: HostileServer, tmp_path: Path
) -> None:
    """The report used to be written after every transcript ran, and a bad path ended
    in a traceback (the results were lost, the exit status meant nothing). It is
    opened and written to first: one line, exit 2, no connection."""
    path, reason = _junit_targets(tmp_path)[target]
    transcript = tmp_path / "ok.smtp"
    transcript.write_text(f"> telnet 127.0.0.1 {server.port}\n220\n> QUIT\n221\n")
    out, err, status = run_cli("replay", str(transcript), "--junit", path)
    assert status == 2, out + err
    assert f": --junit {path}: cannot write: {reason}" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert server.peers == []


def test_a_fifo_as_junit_without_a_reader_is_refused(
    server: HostileServer, tmp_path: Path
) -> None:
    """Opening a FIFO for writing waits for a reader: refused at once instead."""
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    transcript = tmp_path / "ok.smtp"
    transcript.write_text(f"> telnet 127.0.0.1 {server.port}\n220\n> QUIT\n221\n")
    outcome: list[tuple[str, str, int]] = []
    worker = threading.Thread(
        target=lambda: outcome.append(run_cli("replay", str(transcript), "--junit", str(fifo)))
    )
    worker.daemon = True
    worker.start()
    worker.join(20)
    if worker.is_alive():
        with open(fifo, "rb") as reader:
            reader.read()
        worker.join(5)
        pytest.fail("replay blocked on a FIFO given to --junit")
    _out, err, status = outcome[0]
    assert status == 2
    assert f": --junit {fifo}: cannot write: " in err and err.count("\n") == 1
    assert server.peers == []


# --- arguments that are not valid UTF-8 or hold control characters ---------------------

ESCAPE = "\x1b]52;c;ZWNobyBwd25lZA==\x07"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--var", "TO=a\udcffb"], "--var TO: the value is not valid UTF-8",
                     id="var-not-utf8"),
        pytest.param(["--var", f"TO=a{ESCAPE}"],
                     "--var TO: the value contains a control character (0x1B)", id="var-escape"),
        pytest.param(["--var", "TO=a\rRCPT TO:<x>"],
                     "--var TO: the value contains a control character (0x0D)", id="var-cr"),
        pytest.param(["--var", "T\udcffO=x"], "--var wants NAME=VALUE", id="var-name-not-utf8"),
        pytest.param(["--connect", "127.0.0.1\udcff:25"],
                     "--connect: the address is not valid UTF-8", id="connect-not-utf8"),
        pytest.param(["--connect", f"{ESCAPE}:25"],
                     "--connect: the address contains a control character (0x1B)",
                     id="connect-escape"),
    ],
)  # fmt: skip
def test_arguments_that_cannot_be_sent_are_refused_up_front(
    args: list[str], message: str, server: HostileServer, tmp_path: Path
) -> None:
    """argv that was not UTF-8 arrives as lone surrogates (PEP 383) and used to end
    in a UnicodeEncodeError traceback mid-replay; an ESC or CR in a value would act
    on a terminal or inject a command (CVE-2023-51764-style). One line, exit 2,
    the value never echoed raw."""
    transcript = tmp_path / "to.smtp"
    transcript.write_text(
        f"> telnet 127.0.0.1 {server.port}\n220\n> RCPT TO:<${{TO}}>\n250\n> QUIT\n221\n"
    )
    full = ["replay", str(transcript), *args]
    if "--var" not in args:
        full += ["--var", "TO=a@example.test"]
    out, err, status = run_cli(*full)
    assert status == 2, out + err
    assert message in err and err.count("\n") == 1, err
    for raw in ("\udcff", "\x1b", "\x07", "\r"):
        assert raw not in err
    assert "RCPT" not in err and "ZWNob" not in err
    assert server.peers == []
