"""Hostile input that still gets through: each test drives the real program (a
subprocess or a pseudo-terminal) against a scripted server on 127.0.0.1 and checks
what the user sees and the bytes on the wire."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_server import HostileServer, Peer
from pty_shell import ShellPty

from smtpshell.protocol.auth import b64encode_text

USER_B64 = b64encode_text("mallory@example.test")
PASSWORD_B64 = b64encode_text("correct horse battery staple")


def _env(data_home: Path) -> dict[str, str]:
    return {**os.environ, "XDG_DATA_HOME": str(data_home), "NO_COLOR": "1",
            "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": ""}  # fmt: skip


def _piped(
    args: list[str], stdin: bytes, data_home: Path, timeout: float = 20
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "smtpshell", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=_env(data_home),
    )


def _answer_all(refuse_auth: bool = False, ehlo: bytes = b"250 ok\r\n"):  # type: ignore[no-untyped-def]
    """A server that greets, refuses AUTH if asked to, and says 250 to the rest."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile.test ESMTP\r\n")
        while True:
            command = await peer.command()
            verb = command.split(" ", 1)[0].upper()
            if verb == "AUTH" and refuse_auth:
                await peer.send(b"504 5.5.4 Unrecognized authentication type\r\n")
            elif verb == "EHLO":
                await peer.send(ehlo)
            elif verb == "QUIT":
                await peer.send(b"221 bye\r\n")
                return
            else:
                await peer.send(b"250 ok\r\n")

    return script


@pytest.fixture
def refusing_server() -> Iterator[HostileServer]:
    with HostileServer(_answer_all(refuse_auth=True)) as server:
        yield server


@pytest.fixture
def plain_server() -> Iterator[HostileServer]:
    with HostileServer(_answer_all()) as server:
        yield server


# -- secrets: credentials piped behind an AUTH the server refused -------------


def test_piped_auth_answers_after_a_refused_auth_are_not_shown_or_recorded(
    refusing_server: HostileServer, data_home: Path, tmp_path: Path
) -> None:
    """RFC 4954 4: the lines after ``AUTH LOGIN`` are the user name and password in
    base64. When the server refuses the AUTH (504, or Postfix's 503 before TLS), the
    piped credentials must not be echoed as "> cGFzc3..." on stdout nor written to
    the recording as ordinary client lines."""
    recording = tmp_path / "session.smtp"
    stdin = f"AUTH LOGIN\n{USER_B64}\n{PASSWORD_B64}\nQUIT\n".encode()
    result = _piped(
        ["--connect", f"127.0.0.1:{refusing_server.port}", "--record", str(recording)],
        stdin,
        data_home,
    )
    out = result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")
    assert "504" in out, out
    assert PASSWORD_B64 not in out, out
    assert PASSWORD_B64 not in recording.read_text(encoding="utf-8")


def test_piped_auth_answers_after_a_refused_auth_are_not_sent_as_commands(
    refusing_server: HostileServer, data_home: Path
) -> None:
    """The replay already refuses to send a credential no 334 asked for (RFC 4954 4).
    The piped shell sends it as an SMTP command instead, where the server (or anyone
    logging unknown commands) reads the password."""
    stdin = f"AUTH LOGIN\n{USER_B64}\n{PASSWORD_B64}\nQUIT\n".encode()
    _piped(["--connect", f"127.0.0.1:{refusing_server.port}"], stdin, data_home)
    refusing_server.wait_finished()
    assert b"AUTH LOGIN\r\n" in refusing_server.clear
    assert PASSWORD_B64.encode() not in refusing_server.clear, refusing_server.clear


# -- hostile input at the prompt: bytes that are not UTF-8 --------------------


def test_latin1_bytes_typed_at_the_prompt_do_not_kill_the_shell(
    plain_server: HostileServer, data_home: Path
) -> None:
    """A terminal in a Latin-1 locale sends "é" as the byte 0xE9; prompt_toolkit
    decodes it as a lone surrogate (surrogateescape). ``b64 café`` or ``VRFY café``
    must get a one-line refusal, as piped input does, not a UnicodeEncodeError
    traceback that ends the shell and its connection."""
    sh = ShellPty(["--connect", f"127.0.0.1:{plain_server.port}"], data_home)
    try:
        sh.expect(r"220 hostile\.test")
        os.write(sh.child.child_fd, b"b64 caf\xe9\r")
        os.write(sh.child.child_fd, b"VRFY caf\xe9\r")
        sh.type("b64 ok")
        sh.expect(r"b2s=")  # base64 of "ok": the shell is still there
        assert "Traceback" not in sh.screen, sh.screen[-2000:]
        sh.type("NOOP")
        sh.expect(r"250 ok")
    finally:
        sh.close()


# -- a recording that cannot be written ---------------------------------------


def test_recording_to_a_full_device_does_not_end_the_session(
    plain_server: HostileServer, data_home: Path
) -> None:
    """``record /dev/full`` fails with ENOSPC on its first write. That is one
    consumer failing: it must be a one-line error, and the shell and its connection
    go on (the next NOOP reaches the server). Today the OSError escapes the local
    command and ends the program, connection and all."""
    stdin = b"NOOP\nrecord /dev/full\nNOOP\nQUIT\n"
    result = _piped(["--connect", f"127.0.0.1:{plain_server.port}"], stdin, data_home)
    plain_server.wait_finished()
    assert b"Traceback" not in result.stderr, result.stderr
    assert plain_server.clear.count(b"NOOP\r\n") == 2, plain_server.clear
    assert b"QUIT\r\n" in plain_server.clear


def test_recording_to_a_fifo_does_not_hang_the_shell(
    plain_server: HostileServer, data_home: Path, tmp_path: Path
) -> None:
    """``record FIFO`` opens the named pipe for writing without O_NONBLOCK: with no
    reader the open blocks the event loop for ever (replies stop, Ctrl-C does
    nothing, since the terminal is in raw mode). A FIFO given as a transcript or as
    --junit is refused at once; a recording path deserves the same."""
    fifo = tmp_path / "recording.smtp"
    os.mkfifo(fifo)
    stdin = f"NOOP\nrecord {fifo}\nNOOP\nQUIT\n".encode()
    try:
        result = _piped(
            ["--connect", f"127.0.0.1:{plain_server.port}"], stdin, data_home, timeout=15
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"record {fifo} (a FIFO with no reader) hung the shell")
    assert b"Traceback" not in result.stderr, result.stderr
    assert plain_server.clear.count(b"NOOP\r\n") == 2, plain_server.clear


# -- server text on the terminal: the completion menu -------------------------


def test_auth_mechanisms_in_the_completion_menu_are_inert(data_home: Path) -> None:
    """Completion offers the AUTH mechanisms the server advertised. prompt_toolkit
    shows ESC as ^[, but a bidi override (U+202E, Trojan Source CVE-2021-42574)
    reaches the terminal as it is and reorders what the user reads, the one path
    where server text was not passed through inert(). Only real SASL mechanism
    names (RFC 4422 3.1) are offered now."""
    ehlo = "250-hostile.test\r\n250-AUTH \u202eNIGOL\r\n250 HELP\r\n".encode()
    with HostileServer(_answer_all(ehlo=ehlo)) as server:
        sh = ShellPty(["--connect", f"127.0.0.1:{server.port}"], data_home)
        try:
            sh.expect(r"220 hostile\.test")
            sh.type("EHLO me")
            sh.expect(r"250 HELP")
            # The reply itself is shown escaped: the renderer did its job.
            assert "\u202e" not in sh.raw
            sh.keys("AUTH \t")
            sh.keys("Z")
            sh.expect(r"AUTH ?Z")  # the Tab was handled before the Z: nothing was offered
            assert "\u202e" not in sh.raw, repr(sh.raw[-400:])
        finally:
            sh.close()


def test_a_plain_override_cannot_strip_a_transcripts_tls() -> None:
    """The pytest plugin's `smtp_tls = plain` over a transcript written with
    `openssl s_client -starttls smtp` would replay its AUTH in clear (a downgrade
    chosen by configuration, not by the transcript's author)."""
    from smtpshell.core.options import ConnectOptions
    from smtpshell.errors import UsageError
    from smtpshell.protocol.endpoint import TlsMode
    from smtpshell.replay.runner import target
    from smtpshell.transcript import parse_transcript

    text = "> openssl s_client -starttls smtp -connect mx.example.test:25\n220 hi\n"
    transcript = parse_transcript(text, "t.smtp")
    with pytest.raises(UsageError, match="plain-text override"):
        target(transcript, ConnectOptions(mode=TlsMode.PLAIN))
    assert target(transcript, ConnectOptions()).mode is TlsMode.STARTTLS
