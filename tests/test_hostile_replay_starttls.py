"""A transcript's STARTTLS step that does not end in TLS: the replay fails and sends
nothing more, whatever the transcript expected and whatever the server sends after.

Each server here answers STARTTLS without starting TLS, then accepts anything, so a
replay that carries on in plain text would pass. ``server.clear`` holds every byte
the client wrote in plain text: nothing may follow the STARTTLS line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer, Script

from smtpshell.core.options import ConnectOptions
from smtpshell.replay.runner import ReplayResult, replay
from smtpshell.transcript import parse_transcript, substitute

PLAIN_CREDENTIALS = "AGFsaWNlAHdvbmRlcmxhbmQ="  # base64 of "\0alice\0wonderland"
SENT_BEFORE_TLS = b"EHLO me\r\nSTARTTLS\r\n"


def _transcript(port: int, starttls_reply: str) -> str:
    return (
        f"> smtpshell --connect 127.0.0.1:{port}\n220\n> EHLO me\n250\n"
        f"> STARTTLS\n{starttls_reply}\n"
        "> AUTH PLAIN ${AUTH_PLAIN}\n235\n> MAIL FROM:<a@example.test>\n250\n"
        "> RCPT TO:<b@example.test>\n250\n> DATA\n354\n> Subject: x\n>\n> body\n> .\n250\n"
        "> QUIT\n221\n"
    )


def _answering_starttls_with(answer: bytes, then_close: bool = False) -> Script:
    """Offers STARTTLS, answers it with ``answer`` (one segment), never starts TLS, and
    accepts every later command: AUTH with 235, DATA with 354, anything else 250."""

    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile.test ESMTP\r\n")
        while True:
            verb = (await peer.command()).split(" ", 1)[0].upper()
            if verb == "EHLO":
                await peer.send(b"250-hostile.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
            elif verb == "STARTTLS":
                await peer.send(answer)
                if then_close:
                    return
            elif verb == "AUTH":
                await peer.send(b"235 2.7.0 accepted\r\n")
            elif verb == "DATA":
                await peer.send(b"354 go ahead\r\n")
                while await peer.command() != ".":
                    pass
                await peer.send(b"250 queued\r\n")
            else:
                await peer.send(b"250 ok\r\n")

    return script


def _replay(port: int, starttls_reply: str) -> ReplayResult:
    parsed = parse_transcript(_transcript(port, starttls_reply), "starttls.smtp")
    transcript = substitute(parsed, {"AUTH_PLAIN": PLAIN_CREDENTIALS}, {})
    return asyncio.run(replay(transcript, ConnectOptions(timeout=5)))


CASES = [
    pytest.param(b"250 2.0.0 ok\r\n", "2xx", False, id="250"),
    pytest.param(b"454 4.7.0 TLS not available\r\n", "454", False, id="454"),
    pytest.param(b"454 4.7.0 no\r\n235 2.7.0 accepted\r\n", "4xx", False, id="454-then-235"),
    pytest.param(b"454 4.7.0 no\r\n250 2.0.0 ok\r\n", "4xx", False, id="454-then-250"),
    pytest.param(b"454 4.7.0 no\r\n354 go ahead\r\n", "4xx", False, id="454-then-354"),
    pytest.param(b"502 5.5.1 not implemented\r\n", "5xx", False, id="5xx"),
    pytest.param(b"421 4.3.2 shutting down\r\n", "421", True, id="421-and-close"),
]


@pytest.mark.parametrize(("answer", "written", "then_close"), CASES)
def test_a_starttls_step_without_tls_fails_and_sends_nothing_more(
    answer: bytes, written: str, then_close: bool
) -> None:
    """RFC 3207 4: a client that asked for TLS must not go on in plain text when it
    did not get it. A STARTTLS answered with anything but a TLS session, with
    replies pipelined behind a refusal in the same segment (curl CVE-2021-22947,
    curl test 980; Poddebniak et al., "Why TLS is better without STARTTLS", USENIX
    Security 2021), must not let the transcript send its AUTH in clear, even where
    the transcript's own expected reply matches the refusal."""
    with HostileServer(_answering_starttls_with(answer, then_close)) as server:
        result = _replay(server.port, written)
        server.wait_finished()
    assert server.clear == SENT_BEFORE_TLS
    assert result.mismatch is not None
    assert result.mismatch.line == 5
    assert result.mismatch.reason.startswith("STARTTLS did not start TLS: ")
    assert result.mismatch.reason.endswith("; nothing more was sent")
    assert result.mismatch.sent == "STARTTLS"
    assert server.errors == []


def test_replay_command_exits_1_when_starttls_does_not_start_tls(tmp_path: Path) -> None:
    """RFC 3207 4, through ``smtpshell replay``: the transcript fails (exit 1), says
    why, and the AUTH PLAIN initial response never reaches the wire."""
    answer = b"454 4.7.0 no\r\n235 2.7.0 accepted\r\n"
    with HostileServer(_answering_starttls_with(answer)) as server:
        transcript = tmp_path / "starttls.smtp"
        transcript.write_text(_transcript(server.port, "4xx"), encoding="utf-8")
        out, err, status = run_cli(
            "replay", str(transcript), f"--var=AUTH_PLAIN={PLAIN_CREDENTIALS}", "--timeout", "5"
        )
        server.wait_finished()
    assert status == 1, out + err
    assert f"FAIL {transcript}:5" in out
    assert "STARTTLS did not start TLS: the server answered 454 4.7.0 no" in out
    assert server.clear == SENT_BEFORE_TLS
    assert PLAIN_CREDENTIALS.encode() not in server.clear


def test_starttls_answered_220_then_plain_text_fails_in_the_handshake() -> None:
    """RFC 3207 5 / STARTTLS response injection: a 220 followed by plain-text replies
    instead of a handshake is a TLS failure; nothing after STARTTLS is sent."""
    answer = b"220 go ahead\r\n235 2.7.0 accepted\r\n250 ok\r\n"
    with HostileServer(_answering_starttls_with(answer, then_close=True)) as server:
        result = _replay(server.port, "220")
        server.wait_finished()
    assert server.clear.startswith(SENT_BEFORE_TLS)
    after = server.clear[len(SENT_BEFORE_TLS) :]
    for verb in (b"AUTH", b"MAIL", b"RCPT", b"DATA"):
        assert verb not in after
    assert result.mismatch is not None and result.mismatch.line == 5
    assert result.mismatch.reason.startswith("STARTTLS did not start TLS: ")
