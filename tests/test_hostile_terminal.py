"""Server-controlled text never reaches the terminal raw, on the secondary paths too.

Replies themselves are escaped by the renderer; these tests cover the messages
built around server text: the ``--starttls`` refusal, ``login``'s unexpected reply,
notices and close reasons. Each hostile string (tests/hostile_strings.py) is tried
on each path, through the real command line.
"""

from __future__ import annotations

import pytest
from cli_runner import run_cli
from hostile_server import HostileServer, Peer
from hostile_strings import HOSTILE, leaked

CASES = list(HOSTILE.items())


def _refuse_starttls(text: str) -> object:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile ESMTP\r\n")
        await peer.command()  # EHLO
        await peer.send(b"250-hostile\r\n250 STARTTLS\r\n")
        await peer.command()  # STARTTLS
        await peer.send(f"454 4.7.0 {text} try later\r\n".encode("utf-8", "surrogateescape"))
        await peer.drain_client()

    return script


def _odd_auth_reply(text: str) -> object:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile ESMTP\r\n")
        await peer.command()  # EHLO
        await peer.send(b"250-hostile\r\n250 AUTH PLAIN\r\n")
        await peer.command()  # AUTH PLAIN <initial response>
        await peer.send(f"399 {text}\r\n".encode("utf-8", "surrogateescape"))
        await peer.drain_client()

    return script


@pytest.mark.parametrize(("name", "text"), CASES, ids=[name for name, _ in CASES])
def test_starttls_refusal_message_is_inert(name: str, text: str) -> None:
    """Poddebniak et al. 2021 show servers (or a MITM) choose this text freely; an
    ESC in it would clear the screen or write the clipboard (OSC 52)."""
    with HostileServer(_refuse_starttls(text)) as server:  # type: ignore[arg-type]
        out, err, status = run_cli(
            "--connect", f"127.0.0.1:{server.port}", "--starttls", "--timeout", "5"
        )
    assert status == 1
    assert "refused STARTTLS" in out + err
    assert not leaked(out + err), (name, out, err)


@pytest.mark.parametrize(("name", "text"), CASES, ids=[name for name, _ in CASES])
def test_login_unexpected_reply_is_inert(name: str, text: str) -> None:
    """The guided login quotes the server's reply in its error (RFC 4954 4)."""
    with HostileServer(_odd_auth_reply(text)) as server:  # type: ignore[arg-type]
        out, err, status = run_cli(
            "--connect", f"127.0.0.1:{server.port}", "--timeout", "5",
            stdin="EHLO me\nlogin alice --mech PLAIN\nsecret\n",
        )  # fmt: skip
    assert status == 1
    assert "unexpected reply" in out + err
    assert not leaked(out + err), (name, out, err)
