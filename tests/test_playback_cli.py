"""``smtpshell serve --script`` as users run it, against the clients they have:
smtplib, swaks, ``smtpshell send``, a piped smtpshell session and ``smtpshell replay``.
"""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from auth_text import b64
from cli_runner import run_cli

ROOT = Path(__file__).resolve().parent.parent

TLS_LOGIN = """\
220 mail.example.test ESMTP
> EHLO client.test
250-mail.example.test
250-STARTTLS
250 AUTH LOGIN
> STARTTLS
220 2.0.0 go ahead
> EHLO client.test
250-mail.example.test
250 AUTH LOGIN
> AUTH LOGIN
334 VXNlcm5hbWU6
> ${AUTH_USER}
334 UGFzc3dvcmQ6
> ${AUTH_PASSWORD}
235 2.7.0 ok
> MAIL FROM:<a@example.test>
250 ok
> RCPT TO:<b@example.test>
250 ok
> DATA
354 go
> Subject: hello
>
> body
> .
250 queued
> QUIT
221 bye
"""

PIPELINED = """\
220 mail.example.test ESMTP
> EHLO client.test
250-mail.example.test
250 PIPELINING
> MAIL FROM:<a@example.test>
> RCPT TO:<b@example.test>
> DATA
250 ok
250 ok
354 go
> From: a@example.test
> To: b@example.test
> Subject: hello
> Content-Type: text/plain; charset="utf-8"
> Content-Transfer-Encoding: 7bit
> MIME-Version: 1.0
>
> body
> .
250 queued
> QUIT
221 bye
"""


@dataclass
class Served:
    port: int
    cafile: Path
    transcript: Path
    out: str = ""
    err: str = ""
    status: int | None = None
    lines: list[str] = field(default_factory=list)


def _environment(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "NO_COLOR": "1",
    }


@contextmanager
def served(tmp_path: Path, text: str, *options: str) -> Iterator[Served]:
    """``smtpshell serve --script`` in its own process on a free port; after the block,
    its output and exit status."""
    transcript = tmp_path / "t.smtp"
    transcript.write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "smtpshell", "serve", "--script", str(transcript)]
    process = subprocess.Popen(
        [*command, "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(tmp_path),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # printed once listening; "" if it failed
        match = re.fullmatch(
            r"listening on 127\.0\.0\.1:(\d+) \(serving .* (once|\d+ times)\)\n", first
        )
        assert match is not None, first + process.communicate(timeout=10)[1]
        cafile = tmp_path / "data" / "smtpshell" / "server-tls" / "ca.pem"
        result = Served(int(match.group(1)), cafile, transcript)
        yield result
        # Not communicate(): it reads the pipes below the text layer, losing what
        # readline() already buffered there.
        result.status = process.wait(timeout=30)
        result.out, result.err = first + process.stdout.read(), _read(process.stderr)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _read(stream: IO[str] | None) -> str:
    return stream.read() if stream is not None else ""


def test_port_0_prints_the_port_and_a_following_client_exits_0(tmp_path: Path) -> None:
    with (
        served(tmp_path, PIPELINED) as server,
        smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test") as client,
    ):
        client.sendmail("a@example.test", ["b@example.test"], _composed())
    assert server.status == 0, server.err
    assert server.err == ""
    assert server.out.endswith(f"{server.transcript}: served once as scripted\n")


def _composed() -> str:
    return (
        "From: a@example.test\r\nTo: b@example.test\r\nSubject: hello\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: 7bit\r\n'
        "MIME-Version: 1.0\r\n\r\nbody\r\n"
    )


def test_a_deviating_client_exits_1_with_the_line(tmp_path: Path) -> None:
    with (
        served(tmp_path, PIPELINED) as server,
        smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test") as client,
        pytest.raises(smtplib.SMTPRecipientsRefused),
    ):
        client.sendmail("a@example.test", ["c@example.test"], _composed())
    assert server.status == 1
    assert server.err == (
        f"{server.transcript}:6: client sent rcpt TO:<c@example.test>, "
        "transcript expected RCPT TO:<b@example.test>\n"
    )


def test_connections_n_serves_n_times(tmp_path: Path) -> None:
    with served(tmp_path, PIPELINED, "--connections", "2") as server:
        for _ in range(2):
            with smtplib.SMTP("127.0.0.1", server.port, local_hostname="client.test") as client:
                client.sendmail("a@example.test", ["b@example.test"], _composed())
    assert server.status == 0, server.err
    assert "served 2 times as scripted" in server.out


def test_smtpshell_send_pipelines_through_the_script(tmp_path: Path) -> None:
    with served(tmp_path, PIPELINED) as server:
        sent = subprocess.run(
            [
                sys.executable,
                "-m",
                "smtpshell",
                "send",
                "--server",
                f"127.0.0.1:{server.port}",
                "--from",
                "a@example.test",
                "--to",
                "b@example.test",
                "-s",
                "hello",
                "--body",
                "body",
                "--helo",
                "client.test",
            ],
            capture_output=True,
            text=True,
            env=_environment(tmp_path),
            timeout=30,
        )
    assert sent.returncode == 0, sent.stderr
    assert server.status == 0, server.err


def test_smtpshell_send_with_another_subject_fails_at_that_line(tmp_path: Path) -> None:
    with served(tmp_path, PIPELINED) as server:
        sent = subprocess.run(
            [
                sys.executable,
                "-m",
                "smtpshell",
                "send",
                "--server",
                f"127.0.0.1:{server.port}",
                "--from",
                "a@example.test",
                "--to",
                "b@example.test",
                "-s",
                "goodbye",
                "--body",
                "body",
                "--helo",
                "client.test",
            ],
            capture_output=True,
            text=True,
            env=_environment(tmp_path),
            timeout=30,
        )
    assert sent.returncode == 26  # the message refused, with the 554
    assert server.status == 1
    assert server.err == (
        f"{server.transcript}:13: client sent Subject: goodbye, "
        "transcript expected Subject: hello\n"
    )


def _piped_session(port: int, lines: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpshell", "--connect", f"127.0.0.1:{port}", "--no-history"],
        input=lines,
        capture_output=True,
        text=True,
        env=_environment(tmp_path),
        timeout=30,
    )


SESSION = (
    "EHLO client.test\nMAIL FROM:<a@example.test>\nRCPT TO:<b@example.test>\nDATA\n"
    "From: a@example.test\nTo: b@example.test\nSubject: hello\n"
    'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: 7bit\n'
    "MIME-Version: 1.0\n\nbody\n.\nQUIT\n"
)


def test_a_piped_smtpshell_session_follows_the_script(tmp_path: Path) -> None:
    with served(tmp_path, PIPELINED) as server:
        session = _piped_session(server.port, SESSION, tmp_path)
    assert session.returncode == 0, session.stdout + session.stderr
    assert server.status == 0, server.err


def test_a_piped_session_that_stops_early_fails(tmp_path: Path) -> None:
    with served(tmp_path, PIPELINED) as server:
        _piped_session(server.port, SESSION.split("DATA")[0], tmp_path)
    assert server.status == 1
    assert server.err == (
        f"{server.transcript}:7: client closed the connection; transcript expected DATA\n"
    )


def test_the_same_transcript_replayed_against_its_own_server(tmp_path: Path) -> None:
    values = ["--var", f"AUTH_USER={b64('alice')}", "--var", f"AUTH_PASSWORD={b64('secret')}"]
    with served(tmp_path, TLS_LOGIN, *values) as server:
        replayed = subprocess.run(
            [
                sys.executable,
                "-m",
                "smtpshell",
                "replay",
                str(server.transcript),
                "--connect",
                f"127.0.0.1:{server.port}",
                "--cafile",
                str(server.cafile),
                *values,
            ],
            capture_output=True,
            text=True,
            env=_environment(tmp_path),
            timeout=30,
        )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert server.status == 0, server.err
    assert f"CA certificate: {server.cafile}" in server.out


SWAKS = shutil.which("swaks")
needs_swaks = pytest.mark.skipif(SWAKS is None, reason="swaks is not installed")


def _swaks(port: int, cafile: Path, data: str) -> subprocess.CompletedProcess[str]:
    assert SWAKS is not None
    return subprocess.run(
        [
            SWAKS,
            "--server",
            f"127.0.0.1:{port}",
            "--helo",
            "client.test",
            "--from",
            "a@example.test",
            "--to",
            "b@example.test",
            "--tls",
            "--tls-verify",
            "--tls-ca-path",
            str(cafile),
            "--auth",
            "LOGIN",
            "--auth-user",
            "alice",
            "--auth-password",
            "secret",
            "--data",
            data,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


@needs_swaks
def test_swaks_with_starttls_and_auth_login(tmp_path: Path) -> None:
    values = ["--var", f"AUTH_USER={b64('alice')}", "--var", f"AUTH_PASSWORD={b64('secret')}"]
    with served(tmp_path, TLS_LOGIN, *values) as server:
        swaks = _swaks(server.port, server.cafile, "Subject: hello\\n\\nbody")
    assert swaks.returncode == 0, swaks.stdout
    assert server.status == 0, server.err
    assert "note:" not in server.out


@needs_swaks
def test_swaks_with_a_wrong_password_and_another_body(tmp_path: Path) -> None:
    values = ["--var", f"AUTH_USER={b64('alice')}", "--var", f"AUTH_PASSWORD={b64('other')}"]
    with served(tmp_path, TLS_LOGIN, *values) as server:
        swaks = _swaks(server.port, server.cafile, "Subject: hello\\n\\nbody")
    assert swaks.returncode == 28  # swaks: AUTH failed
    assert server.err == (
        f"{server.transcript}:15: client sent a different answer (not shown: it may be a "
        "credential), transcript expected ${AUTH_PASSWORD}\n"
    )
    assert b64("secret") not in server.err + server.out
    with served(tmp_path, TLS_LOGIN) as server:
        swaks = _swaks(server.port, server.cafile, "Subject: hello\\n\\nanother body")
    assert swaks.returncode == 26  # swaks: the message refused
    assert server.err == (
        f"{server.transcript}:25: client sent another body, transcript expected body\n"
    )
    assert "no value for ${AUTH_USER}" in server.out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--connections", "2"], "--connections needs --script FILE"),
        (["--script", "t.smtp", "--user", "a:b"], "--user is for the embedded server"),
        (["--script", "missing.smtp"], "missing.smtp: no such file"),
        (["--script", "t.smtp", "--mismatch-reply", "250 fine"], "--mismatch-reply wants a 4xx"),
        (["--script", "t.smtp", "--key", "k.pem"], "--key needs --cert"),
        (["--script", "t.smtp", "--env", "NOT_SET_ANYWHERE"], "--env NOT_SET_ANYWHERE"),
    ],
)
def test_usage_errors_are_one_line_and_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.smtp").write_text("220 hi\n> QUIT\n221 bye\n", encoding="utf-8")
    out, err, status = run_cli("serve", *options, "--port", "0")
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and message in err, err


def test_an_unservable_transcript_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "t.smtp"
    path.write_text("220 hi\n> NOOP\n2xx\n", encoding="utf-8")
    out, err, status = run_cli("serve", "--script", str(path), "--port", "0")
    assert (out, status) == ("", 2)
    assert err == (
        f"smtpshell serve: error: {path}:3: a reply written as 2xx names no code to send; "
        "write the code the server should answer (250, 354...)\n"
    )
