"""Secrets on every path of a replay: AUTH payloads in ``-v`` output, and values that
a transcript may take from the environment.

A transcript is written by someone else and names its own server, so it may only
use the values the person running it hands over.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer
from server_fixtures import b64, make_config

from smtpshell.server import BackgroundServer

USER, PASSWORD = "carol@example.test", "pipelined-s3cret"
BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/]{4,}={0,2}")


@pytest.fixture
def plaintext_auth_server(tmp_path: Path, cert_dir: Path) -> Iterator[BackgroundServer]:
    config = make_config(
        tmp_path, cert_dir=cert_dir, users={USER: PASSWORD}, auth_plaintext=True
    )
    with BackgroundServer(config) as running:
        yield running


def _decoded_tokens(text: str) -> list[str]:
    """Every base64-looking token of ``text``, decoded (where it decodes)."""
    decoded = []
    for token in BASE64_TOKEN.findall(text):
        padded = token + "=" * (-len(token) % 4)
        try:
            decoded.append(base64.b64decode(padded, validate=True).decode("utf-8", "replace"))
        except (binascii.Error, ValueError):
            continue
    return decoded


def test_verbose_replay_of_pipelined_auth_login_shows_no_credential(
    plaintext_auth_server: BackgroundServer, tmp_path: Path
) -> None:
    """RFC 4954 4: AUTH is the last command of a pipelined group, and each response
    waits for its 334. Written without replies between them, the user name and
    password went out before the 334 arrived, so the session took them for commands
    and ``-v`` printed their base64 (a credential in CI logs)."""
    transcript = tmp_path / "pipelined-login.smtp"
    transcript.write_text(
        f"> telnet 127.0.0.1 {plaintext_auth_server.port}\n220\n> EHLO me\n250\n"
        "> AUTH LOGIN\n> ${AUTH_USER}\n> ${AUTH_PASSWORD}\n334\n334\n235\n> QUIT\n221\n",
        encoding="utf-8",
    )
    out, err, status = run_cli(
        "replay", str(transcript), "-v",
        f"--var=AUTH_USER={b64(USER)}", f"--var=AUTH_PASSWORD={b64(PASSWORD)}",
    )  # fmt: skip
    assert status == 0, out + err
    shown = out + err
    assert "> ********" in shown
    for secret in (USER, PASSWORD, b64(USER), b64(PASSWORD)):
        assert secret not in shown
    for decoded in _decoded_tokens(shown):
        assert USER not in decoded and PASSWORD not in decoded


def test_a_credential_is_not_sent_when_the_server_did_not_ask(tmp_path: Path) -> None:
    """RFC 4954 4: a response is sent only to a 334. A server answering AUTH LOGIN
    with another 3xx (which the transcript's ``3xx`` accepts) would receive the
    password as a command, and every listener would show it as one."""

    async def never_asks(peer: Peer) -> None:
        await peer.send(b"220 hostile.test ESMTP\r\n")
        while True:
            verb = (await peer.command()).split(" ", 1)[0].upper()
            await peer.send(b"354 go on\r\n" if verb == "AUTH" else b"250 ok\r\n")

    transcript = tmp_path / "login.smtp"
    with HostileServer(never_asks) as server:
        transcript.write_text(
            f"> telnet 127.0.0.1 {server.port}\n220\n> AUTH LOGIN\n3xx\n> ${{AUTH_PASSWORD}}\n"
            "235\n",
            encoding="utf-8",
        )
        out, err, status = run_cli(
            "replay", str(transcript), "-v", f"--var=AUTH_PASSWORD={b64(PASSWORD)}"
        )
        server.wait_finished()
    assert status == 1
    assert b64(PASSWORD).encode() not in server.clear
    assert b64(PASSWORD) not in out + err


# --- values from the environment ---------------------------------------------------

TOKEN = "glpat-deploy-token-0123456789"


def _token_transcript(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "exfiltrate.smtp"
    path.write_text(
        f"> telnet 127.0.0.1 {port}\n220\n> EHLO ${{CI_DEPLOY_TOKEN}}\n250\n> QUIT\n221\n",
        encoding="utf-8",
    )
    return path


async def _accept_all(peer: Peer) -> None:
    await peer.send(b"220 collector.test ESMTP\r\n")
    while (await peer.command()).upper() != "QUIT":
        await peer.send(b"250 ok\r\n")
    await peer.send(b"221 bye\r\n")


def test_a_transcript_cannot_read_environment_variables_it_was_not_given(
    tmp_path: Path,
) -> None:
    """A transcript chooses its own server: if ``${NAME}`` fell back to any environment
    variable, a shared transcript could send a CI secret to a host of its choosing
    (CWE-526). Nothing is sent, the error says how to pass the value (exit 2)."""
    with HostileServer(_accept_all) as server:
        transcript = _token_transcript(tmp_path, server.port)
        out, err, status = run_cli(
            "replay", str(transcript), environ={"NO_COLOR": "1", "CI_DEPLOY_TOKEN": TOKEN}
        )
    assert status == 2, out + err
    assert server.peers == []
    assert err == (
        f"smtpshell replay: {transcript}:3: no value for ${{CI_DEPLOY_TOKEN}} (line 3); "
        "pass --var CI_DEPLOY_TOKEN=... or --env CI_DEPLOY_TOKEN\n"
    )
    assert TOKEN not in out + err


def test_env_names_the_environment_variables_a_transcript_may_use(tmp_path: Path) -> None:
    """The allow-list: ``--env NAME`` hands over exactly that variable, nothing else."""
    with HostileServer(_accept_all) as server:
        transcript = _token_transcript(tmp_path, server.port)
        out, err, status = run_cli(
            "replay", str(transcript), "--env", "CI_DEPLOY_TOKEN",
            environ={"NO_COLOR": "1", "CI_DEPLOY_TOKEN": TOKEN, "OTHER_SECRET": "x"},
        )  # fmt: skip
        server.wait_finished()
    assert status == 0, out + err
    assert server.clear == f"EHLO {TOKEN}\r\nQUIT\r\n".encode()


@pytest.mark.parametrize(
    ("args", "environ", "message"),
    [
        (["--env", "NOT_SET"], {}, "--env NOT_SET: no such environment variable"),
        (["--env", "1BAD"], {}, "--env wants a NAME (letters, digits, _), not '1BAD'"),
        (
            ["--env", "CI_DEPLOY_TOKEN"],
            {"CI_DEPLOY_TOKEN": "a\r\nRCPT TO:<x@evil.test>"},
            "--env CI_DEPLOY_TOKEN: the value contains a control character",
        ),
    ],
)
def test_env_problems_are_one_line_before_connecting(
    tmp_path: Path, args: list[str], environ: dict[str, str], message: str
) -> None:
    """Bad input gets one line and exit 2 before anything is sent; a value that could
    smuggle a second command (CRLF, CVE-2023-51764-style) is never echoed."""
    with HostileServer(_accept_all) as server:
        transcript = _token_transcript(tmp_path, server.port)
        _out, err, status = run_cli(
            "replay", str(transcript), *args, environ={"NO_COLOR": "1", **environ}
        )
    assert status == 2
    assert server.peers == []
    assert err.count("\n") == 1 and message in err, err
    assert "RCPT" not in err
