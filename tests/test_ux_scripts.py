"""Piped sessions tell a script the truth: an exit status per stage for 4xx/5xx replies,
message text streamed and summed up rather than echoed, local commands echoed like
SMTP lines. Each test runs the real program with its standard input piped."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hostile_server import HostileServer, Peer
from server_fixtures import stored_messages

from smtpshell.server import BackgroundServer

TRANSACTION = b"EHLO x\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n"


def piped(port: int, stdin: bytes, *options: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{port}", "--timeout", "10",
         *options],
        input=stdin, capture_output=True, timeout=60,
        env={**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": os.environ.get("TMPDIR", "/tmp")},
    )  # fmt: skip


def refusing(verb: str, answer: bytes) -> Callable[[Peer], Awaitable[None]]:
    """A server that answers ``answer`` to ``verb`` (GREETING: instead of its 220,
    END: to the end of data) and accepts everything else."""

    async def script(peer: Peer) -> None:
        await peer.send(answer if verb == "GREETING" else b"220 refuser ESMTP\r\n")
        while True:
            command = await peer.command()
            word = command.split(" ", 1)[0].upper()
            if word == "DATA" and verb != "DATA":
                await peer.send(b"354 go ahead\r\n")
                while await peer.line() != b".\r\n":
                    pass
                await peer.send(answer if verb == "END" else b"250 2.0.0 queued\r\n")
            elif word == verb:
                await peer.send(answer)
            elif word == "QUIT":
                await peer.send(b"221 2.0.0 bye\r\n")
                return
            elif word == "AUTH":
                await peer.send(b"235 2.7.0 ok\r\n")
            else:
                await peer.send(b"250 2.0.0 ok\r\n")

    return script


def test_a_refused_recipient_makes_a_piped_session_exit_24() -> None:
    """swaks's status for "no RCPTs accepted" is 24: the same number here."""
    script = b"EHLO x\nMAIL FROM:<a@example.test>\nRCPT TO:<nobody@example.test>\nQUIT\n"
    with HostileServer(refusing("RCPT", b"550 5.1.1 <nobody@example.test>: no such user\r\n")) as s:
        result = piped(s.port, script)
    assert result.returncode == 24, result
    assert b"550 5.1.1" in result.stdout
    assert result.stderr == b""


STAGES = [
    ("GREETING", b"554 5.3.2 not now\r\n", 21),
    ("EHLO", b"550 5.7.1 go away\r\n", 22),
    ("MAIL", b"451 4.3.0 try later\r\n", 23),
    ("RCPT", b"550 5.1.1 unknown\r\n", 24),
    ("DATA", b"554 5.5.1 no valid recipients\r\n", 25),
    ("END", b"552 5.3.4 too big\r\n", 26),
    ("QUIT", b"500 5.5.2 what\r\n", 27),
    ("AUTH", b"535 5.7.8 bad credentials\r\n", 28),
    ("NOOP", b"502 5.5.1 not implemented\r\n", 20),
]


@pytest.mark.parametrize(("verb", "answer", "status"), STAGES, ids=[s[0] for s in STAGES])
def test_each_stage_has_its_status(verb: str, answer: bytes, status: int) -> None:
    script = (
        b"EHLO x\nAUTH PLAIN AGFAYg==\nNOOP\n" + TRANSACTION[7:] + b"Subject: s\n\nbody\n.\nQUIT\n"
    )
    with HostileServer(refusing(verb, answer)) as server:
        result = piped(server.port, script)
    assert result.returncode == status, result


def test_a_refused_starttls_is_29_like_swaks() -> None:
    with HostileServer(refusing("STARTTLS", b"454 4.7.0 TLS not available\r\n")) as server:
        result = piped(server.port, b"EHLO x\nSTARTTLS\nQUIT\n")
    assert result.returncode == 29, result


def test_the_first_problem_decides_the_status() -> None:
    """A refused RCPT makes DATA fail too: the status names the cause, RCPT."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 strict ESMTP\r\n")
        for answer in (b"250 ok\r\n", b"250 ok\r\n", b"550 5.1.1 unknown\r\n",
                       b"554 5.5.1 no valid recipients\r\n", b"221 bye\r\n"):  # fmt: skip
            await peer.command()
            await peer.send(answer)

    with HostileServer(script) as server:
        result = piped(server.port, TRANSACTION + b"Subject: s\n\nbody\n.\nQUIT\n")
        server.wait_finished()
    assert result.returncode == 24, result
    # The message text after the refused DATA never reached the server as commands.
    assert b"Subject" not in server.clear and b"body" not in server.clear, server.clear
    assert b"message text not sent" in result.stdout + result.stderr


def test_a_local_failure_first_is_status_1() -> None:
    with HostileServer(refusing("RCPT", b"550 5.1.1 unknown\r\n")) as server:
        result = piped(server.port, b"NOOP\x00\nEHLO x\nMAIL FROM:<a@x.test>\nRCPT TO:<b@x.test>\n")
    assert result.returncode == 1, result


def test_exit_zero_keeps_the_old_behaviour() -> None:
    script = b"EHLO x\nMAIL FROM:<a@example.test>\nRCPT TO:<nobody@example.test>\nQUIT\n"
    with HostileServer(refusing("RCPT", b"550 5.1.1 unknown\r\n")) as server:
        refused = piped(server.port, script, "--exit-zero")
        failed = piped(server.port, b"NOOP\x00\nQUIT\n", "--exit-zero")
    assert refused.returncode == 0, refused
    assert failed.returncode == 1, failed


MESSAGE = (
    b"Subject: caf\xe9\r\n"  # Latin-1: sent byte for byte
    b"\r\n"
    b"..a line that starts with two dots\r\n"
    b".a line that starts with one\r\n"
    b"a line\twith a tab\r\n"
    b"\r\n"
    b"last line\r\n"
)


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_message_text_is_sent_whole_and_summed_up_not_echoed(
    server: BackgroundServer, ending: bytes
) -> None:
    body = MESSAGE.replace(b"\r\n", ending)
    result = piped(server.port, TRANSACTION + body + b"." + ending + b"QUIT\n")
    assert result.returncode == 0, result
    assert stored_messages(server) == [MESSAGE]
    out = result.stdout.decode("utf-8", "replace")
    assert "two dots" not in out and "last line" not in out, out
    stuffed = len(MESSAGE) + 2  # two lines start with a dot: each gets one more
    assert f"message sent: {stuffed} bytes" in out, out
    assert "> DATA\n354" in out and "\n250 OK: stored" in out, out


def test_verbose_echoes_each_message_line(server: BackgroundServer) -> None:
    result = piped(server.port, TRANSACTION + b"Subject: v\n\nshown line\n.\nQUIT\n", "-v")
    assert result.returncode == 0, result
    assert b"> Subject: v\n> \n> shown line\n> .\n250" in result.stdout, result.stdout
    assert stored_messages(server) == [b"Subject: v\r\n\r\nshown line\r\n"]


def test_a_large_message_streams_through(server: BackgroundServer) -> None:
    """Several MiB in, byte for byte out, with only a summary on the output."""
    line = b"0123456789" * 7 + b"abcdef\n"
    body = b"Subject: big\n\n" + line * 60_000
    result = piped(server.port, TRANSACTION + body + b".\nQUIT\n")
    assert result.returncode == 0, result
    assert stored_messages(server) == [body.replace(b"\n", b"\r\n")]
    assert len(result.stdout) < 2000, result.stdout[:2000]


@pytest.mark.parametrize(("line", "name"), [(b"be\rfore", "CR"), (b"nul\x00here", "NUL")])
def test_a_line_that_could_smuggle_abandons_the_message(
    server: BackgroundServer, line: bytes, name: str
) -> None:
    """Nothing of a message with a bare CR or a NUL is delivered: the connection is
    closed mid-message, and the lines after it are not taken for commands."""
    stdin = TRANSACTION + b"Subject: s\n\n" + line + b"\nRSET\n.\nQUIT\n"
    result = piped(server.port, stdin)
    assert result.returncode == 1, result
    err = result.stderr.decode()
    assert f"line 7: refusing to send {name} inside a message line" in err, err
    assert stored_messages(server) == []
    assert "RSET" not in result.stdout.decode()


def test_input_that_ends_inside_a_message_sends_no_message(server: BackgroundServer) -> None:
    result = piped(server.port, TRANSACTION + b"Subject: cut\n\nno end")
    assert result.returncode == 1, result
    assert b"input ended inside the message" in result.stderr, result.stderr
    assert stored_messages(server) == []


def test_local_commands_are_echoed_like_smtp_lines(server: BackgroundServer) -> None:
    result = piped(server.port, b"EHLO me\ncaps\nb64 s3cret\nQUIT\n")
    assert result.returncode == 0, result
    out = result.stdout.decode()
    assert "\n> caps\nEHLO reply from smtpshell.local" in out, out
    assert "\n> b64 ********\nczNjcmV0\n" in out, out
    assert "s3cret" not in out


def test_a_script_read_from_a_file_works_the_same(server: BackgroundServer, tmp_path: Path) -> None:
    script = tmp_path / "script.txt"
    script.write_bytes(TRANSACTION + b"Subject: f\n\nfrom a file\n.\nQUIT\n")
    with script.open("rb") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{server.port}"],
            stdin=stdin, capture_output=True, timeout=60,
            env={**os.environ, "NO_COLOR": "1", "XDG_DATA_HOME": str(tmp_path)},
        )  # fmt: skip
    assert result.returncode == 0, result
    assert stored_messages(server) == [b"Subject: f\r\n\r\nfrom a file\r\n"]


def test_login_reads_its_password_from_the_same_piped_input(server: BackgroundServer) -> None:
    """`login` asks for the password: the next piped line, taken from the same
    buffer as the commands around it, and shown nowhere."""
    stdin = b"EHLO me\nlogin alice --mech PLAIN\nwonderland\nNOOP\nQUIT\n"
    result = piped(server.port, stdin, "--starttls", "--cafile", str(server.ca_file))
    assert result.returncode == 0, result
    out = result.stdout.decode()
    assert "235 2.7.0 Authentication successful" in out and "\n> NOOP\n250" in out, out
    assert b"wonderland" not in result.stdout + result.stderr
